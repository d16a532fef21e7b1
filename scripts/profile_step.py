"""Profile training steps of a spec variant with torch.profiler and print where the time goes.

    python scripts/profile_step.py [SPEC] [--device cuda] [--precision bf16] [--channels-last] [--compile]
        [--compile-mode reduce-overhead] [--fuse-1x1] [--batch-size 128] [--image-size 224] [--steps 5]
        [--set KEY=VALUE ...]

Prints the top operators by self time (device time on CUDA) and the share of time in convolutions, batch
norm, pooling/concat, the optimizer and the rest; writes a Chrome trace next to --trace if given.
"""

from __future__ import annotations

import argparse
import sys

import torch
from torch.profiler import ProfilerActivity, profile

from inception_bench.bench import BenchSettings, make_step
from inception_bench.errors import IbenchError
from inception_bench.models import build_model
from inception_bench.spec import load_spec, parse_overrides
from inception_bench.train import resolve_device


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec", nargs="?", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--compile-mode", default="default")
    ap.add_argument("--fuse-1x1", action="store_true")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--mode", default="train", choices=["train", "infer"])
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--trace", default=None)
    args = ap.parse_args()

    overrides = {**parse_overrides(args.set), "input_size": args.image_size}
    spec = load_spec(args.spec, overrides).spec
    device = resolve_device(args.device)
    settings = BenchSettings(
        mode=args.mode, batch_size=args.batch_size, image_size=args.image_size, precision=args.precision,
        channels_last=args.channels_last, compile=args.compile, compile_mode=args.compile_mode,
        fuse_1x1=args.fuse_1x1, device=str(device),
    )  # fmt: skip
    settings.validate()
    model = build_model(spec).fuse_1x1(args.fuse_1x1)
    step = make_step(model, args.mode, settings, device, spec.num_classes, spec.aux.loss_weight)
    for _ in range(3):  # warm-up (and compilation)
        step(args.batch_size)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(args.steps):
            step(args.batch_size)
        if device.type == "cuda":
            torch.cuda.synchronize()
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=25))
    groups = {"convolution": 0.0, "batch_norm": 0.0, "pool/cat": 0.0, "optimizer": 0.0, "other": 0.0}
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    for event in prof.key_averages():
        name, t = event.key.lower(), getattr(event, attr, 0.0)
        if "conv" in name or "gemm" in name or "cudnn" in name:
            groups["convolution"] += t
        elif "batch_norm" in name or "bn_" in name:
            groups["batch_norm"] += t
        elif "pool" in name or "cat" in name:
            groups["pool/cat"] += t
        elif "foreach" in name or "sgd" in name or "optimizer" in name:
            groups["optimizer"] += t
        else:
            groups["other"] += t
    total = sum(groups.values()) or 1.0
    print("share of self time: " + ", ".join(f"{k} {v / total:.0%}" for k, v in groups.items()))
    if args.trace:
        prof.export_chrome_trace(args.trace)


if __name__ == "__main__":
    try:
        main()
    except IbenchError as e:
        sys.exit(f"error: {e}")
