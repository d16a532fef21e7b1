"""Where one ``ibench train`` run's wall time goes, phase by phase (issue 26, part 5).

Runs a real ``train()`` with every phase wrapped in a timer and prints, per phase, its total seconds, its share of
the wall time and, for per-epoch phases, seconds per epoch. Phases (exclusive: a phase's time leaves out the
phases it calls): setup (data load and decode, model, optimizer), train steps, batch-norm recompute (precise BN,
before each evaluation), validation (raw and averaged weights), checkpoint writes, test (once, at the end).

    python scripts/profile_run.py OUT_DIR [ibench train options...]
    python scripts/profile_run.py /tmp/prof-run --data fashion-mnist --set width_mult=0.25 --epochs 1

The run folder OUT_DIR is a normal run folder (delete it after). Threads: set OMP_NUM_THREADS as the runs you
profile use it (``ibench ablate --jobs 2`` on 2 cores: 1).
Named by: results/bench/cpu-study-2026-12-06.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

import inception_bench.run.checkpoint as checkpoint
import inception_bench.run.train as train
from inception_bench.cli import app

TOTALS: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)
STACK: list[tuple[str, list[float]]] = []  # per open phase: its name, [start, seconds spent in nested phases]


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` timed as phase ``name``; called inside a phase of the same kind of work (the test's evaluation inside
    "test"), its time goes to that phase."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        phase = STACK[-1][0] if STACK and STACK[-1][0].startswith("test") else name
        STACK.append((phase, [time.perf_counter(), 0.0]))
        try:
            return fn(*args, **kwargs)
        finally:
            _, (start, nested) = STACK.pop()
            spent = time.perf_counter() - start
            TOTALS[phase] += spent - nested
            CALLS[name] += 1
            if STACK:
                STACK[-1][1][1] += spent

    return wrapper


def main() -> None:
    out, options = Path(sys.argv[1]), sys.argv[2:]
    train.setup = timed("setup (data, model)", train.setup)
    train.train_epoch = timed("train steps", train.train_epoch)
    train.recompute_bn_stats = timed("batch-norm recompute", train.recompute_bn_stats)
    train.evaluate_loader = timed("validation (raw + averaged)", train.evaluate_loader)
    train._test = timed("test (once)", train._test)
    checkpoint.save_checkpoint = timed("checkpoint writes", checkpoint.save_checkpoint)
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["train", "small", "--out", str(out), "--progress", "none", *options])
    wall = time.perf_counter() - start
    if result.exit_code != 0:
        sys.exit(f"error: the run failed: {result.output.strip()}")
    epochs = CALLS["train steps"]
    TOTALS["test (once)"] = TOTALS.get("test (once)", 0.0)
    print(f"{'phase':30s} {'seconds':>8s} {'share':>7s} {'per epoch':>10s}")
    for name, seconds in sorted(TOTALS.items(), key=lambda kv: -kv[1]):
        print(f"{name:30s} {seconds:8.1f} {seconds / wall:7.1%} {seconds / epochs:10.1f}")
    rest = wall - sum(TOTALS.values())
    print(f"{'other (CLI, records)':30s} {rest:8.1f} {rest / wall:7.1%}")
    print(f"{'wall':30s} {wall:8.1f}   ({epochs} epochs)")


if __name__ == "__main__":
    main()
