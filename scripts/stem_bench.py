"""Time conv1 alone, as the network runs it and on space-to-depth blocks (``--s2d-stem``), side by side.

    python scripts/stem_bench.py [--device cuda] [--precision bf16] [--batch-size 256] [--image-size 224]
        [--steps 20] [--width 64]

conv1 is the paper's 7x7/2 over 3 channels with ``--width`` filters, channels_last, eager, cudnn.benchmark on,
under autocast for bf16/fp16. Three ways: ``plain`` (nn.Conv2d), ``s2d`` (:func:`space_to_depth_conv`: cast, pad,
pixel_unshuffle, 4x4/1 convolution; eager runs the rearranging as copies of its own, which torch.compile can fuse
into one) and ``s2d conv only`` (the 4x4/1 convolution on blocks made beforehand: the least a compiled path can
pay). Forward under inference_mode, and forward + backward (weight and bias gradients; the image needs
none, as in training). Prints the median ms per call over ``--steps`` timed calls after 5 warm-up calls, each
synchronised, and each way's speed-up over ``plain`` (plain's time / its time).
Named by: results/bench/cpu-2026-11-28, docs/bench.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from inception_bench.errors import IbenchError, run_script
from inception_bench.models.blocks import space_to_depth_conv, space_to_depth_input, space_to_depth_weight
from inception_bench.run.engine import autocast_for, resolve_device


def timed(fn: Callable[[], object], steps: int, device: torch.device) -> float:
    """Median ms of ``fn`` over ``steps`` calls after 5 warm-up calls, each synchronised."""
    times = []
    for i in range(5 + steps):
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= 5:
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--width", type=int, default=64)
    args = ap.parse_args()
    for option, value, least in [
        ("--batch-size", args.batch_size, 1),
        ("--image-size", args.image_size, 8),
        ("--steps", args.steps, 1),
        ("--width", args.width, 1),
    ]:
        if value < least:
            raise IbenchError(f"{option} {value}: must be at least {least}")
    device = resolve_device(args.device)
    if args.precision != "fp32" and device.type != "cuda":
        raise IbenchError(f"--precision {args.precision}: only on CUDA; use --precision fp32 on the CPU")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    autocast = autocast_for(device, args.precision)
    conv = nn.Conv2d(3, args.width, 7, stride=2, padding=3).to(device, memory_format=torch.channels_last)
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size, device=device)
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), autocast():  # the blocks as the compiled path would have them: made once, in the precision
        blocks = space_to_depth_input(x, conv)

    ways: dict[str, Callable[[], torch.Tensor]] = {
        "plain": lambda: conv(x),
        "s2d": lambda: space_to_depth_conv(x, conv),
        "s2d conv only": lambda: F.conv2d(blocks, space_to_depth_weight(conv.weight), conv.bias),
    }
    with autocast():  # the two ways compute the same function (up to the precision's rounding)
        plain, s2d = ways["plain"]().float(), ways["s2d"]().float()
    error = ((s2d - plain).norm() / plain.norm()).item()
    print(
        f"conv1 7x7/2, 3 -> {args.width} channels, batch {args.batch_size}, {args.image_size} px, "
        f"{args.precision}, channels_last, {device.type}; s2d vs plain relative difference {error:.1e}"
    )

    def forward(way: Callable[[], torch.Tensor]) -> Callable[[], object]:
        def run() -> object:
            with torch.inference_mode(), autocast():
                return way()

        return run

    def training(way: Callable[[], torch.Tensor]) -> Callable[[], object]:
        def run() -> object:
            conv.weight.grad = conv.bias.grad = None
            with autocast():
                out = way()
            out.backward(torch.ones_like(out))
            return None

        return run

    print(f"{'way':<16} {'forward ms':>11} {'speed-up':>9} {'fwd+bwd ms':>11} {'speed-up':>9}")
    base = {}
    for name, way in ways.items():
        fwd, train = timed(forward(way), args.steps, device), timed(training(way), args.steps, device)
        base.setdefault("fwd", fwd), base.setdefault("train", train)
        print(f"{name:<16} {fwd:11.3f} {base['fwd'] / fwd:8.2f}x {train:11.3f} {base['train'] / train:8.2f}x")


if __name__ == "__main__":
    run_script(main)
