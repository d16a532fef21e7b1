"""Training images/s of this machine for a study: one run on every core vs one run per core (issue 26, part 5).

``ibench ablate --jobs N`` starts N runs at once and gives each cores/N torch threads. On a small CPU a study's
runs (quarter width, 32 px, batch 64) use several threads badly, so the machine may train more images per second
as N runs of 1 thread than as 1 run of N threads. This measures it: for each variant and round, the setups in turn
(interleaved, so drift hits both alike), each as worker processes that build the variant, warm up, then run
``ibench train``'s step (:func:`inception_bench.run.engine.train_step`, bf16 autocast and channels_last as the CPU
default) on random images for the same wall-clock window; a setup's figure is the sum of its workers' images/s.

    python scripts/jobs_bench.py --output results/bench/cpu-study-DATE/jobs.csv
    python scripts/jobs_bench.py --variants reduced,naive --rounds 3 --seconds 20

Writes a CSV (round, variant, setup, workers, threads, images_per_sec) and prints the medians and the ratios.
Named by: results/bench/cpu-study-2026-12-06.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd


def worker(variant: str, width: float, batch: int, size: int, start_at: float, seconds: float) -> None:
    """One process: build, warm up, wait for the common start, count the steps done in ``seconds``."""
    import torch

    from inception_bench.run.engine import autocast_for, build_for_run, train_step
    from inception_bench.spec import resolve_spec

    spec = resolve_spec("small", {"width_mult": width, "module": variant, "input_size": size}).spec
    model = build_for_run(spec).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=2e-4)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    autocast = autocast_for(torch.device("cpu"), "bf16")
    images = torch.randn(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, spec.num_classes, (batch,))

    def step() -> None:
        train_step(model, images, labels, optimizer, scaler, autocast, spec.aux.loss_weight, clip_grad_norm=2.0)

    for _ in range(3):
        step()
    time.sleep(max(0.0, start_at - time.time()))
    steps, begin = 0, time.perf_counter()
    while time.perf_counter() - begin < seconds:
        step()
        steps += 1
    print(json.dumps({"images_per_sec": steps * batch / (time.perf_counter() - begin)}))


def measure(args: argparse.Namespace, variant: str, workers: int, threads: int) -> float:
    """Images/s of ``workers`` processes of ``threads`` threads each, run over the same window."""
    start_at = time.time() + args.startup
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    command = [sys.executable, __file__, "--worker", variant, "--start-at", str(start_at)]
    command += ["--seconds", str(args.seconds), "--width", str(args.width), "--batch-size", str(args.batch_size)]
    command += ["--image-size", str(args.image_size)]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    total = 0.0
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"error: a worker failed (exit {proc.returncode}); run it alone: {' '.join(command)}")
        total += json.loads(out.strip().splitlines()[-1])["images_per_sec"]
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="reduced,naive", help="module kinds, comma-separated")
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="the timed window of each measurement")
    parser.add_argument("--startup", type=float, default=25.0, help="seconds given to import, build and warm up")
    parser.add_argument("--output", type=Path, help="the CSV to write")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.width, args.batch_size, args.image_size, args.start_at, args.seconds)
        return
    cores = os.cpu_count() or 1
    setups = [(f"1 run x {cores} threads", 1, cores), (f"{cores} runs x 1 thread", cores, 1)]
    rows = []
    for round_ in range(1, args.rounds + 1):
        for variant in args.variants.split(","):
            for name, workers, threads in setups:
                speed = measure(args, variant, workers, threads)
                rows.append(
                    {"round": round_, "variant": variant, "setup": name, "workers": workers, "threads": threads,
                     "images_per_sec": speed}
                )  # fmt: skip
                print(f"round {round_} {variant:8s} {name:22s} {speed:7.0f} img/s", flush=True)
    frame = pd.DataFrame(rows)
    medians = frame.groupby(["variant", "setup"], sort=False)["images_per_sec"].median().unstack()
    medians["ratio"] = medians[setups[1][0]] / medians[setups[0][0]]
    print(medians.round(2).to_string())
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.output.with_suffix(".tmp")
        frame.to_csv(tmp, index=False)
        os.replace(tmp, args.output)


if __name__ == "__main__":
    main()
