"""Profile steps of a spec variant with torch.profiler and print where the time goes.

    python scripts/profile_step.py [SPEC] [--device cuda] [--precision bf16] [--channels-last] [--compile]
        [--compile-mode reduce-overhead] [--fuse-1x1] [--s2d-stem] [--mode train|infer] [--batch-size 128]
        [--image-size 224] [--steps 5] [--set KEY=VALUE ...] [--trace trace.json]

Prints, per step (ms are per step, averaged over ``--steps`` profiled steps after 3 warm-up steps):
1. the top operators and kernels by self time (device time on CUDA);
2. the time by kind: on CUDA the device kernels only (an operator's own row would count its kernels twice),
   sorted into convolution/GEMM, padding to 8 channels (cuDNN's ``nhwcAddPaddingKernel``), layout conversion,
   pooling, batch norm, concatenation, the optimizer, inductor's fused elementwise kernels and the rest, next to
   the wall time per step (the GPU idles for the difference: launch overhead); on the CPU, operators' self time;
3. every convolution of the network, forward and backward, by layer name (``fused 1x1`` and ``space-to-depth``
   for the execution options' own convolutions) with its weight and input shapes.
Profiling adds its own overhead to the wall time. Under CUDA graphs (``--compile-mode reduce-overhead``) the
profiler does not see into graphs captured during warm-up: profile without them to see kernels.
Named by: results/bench/profile-cpu.md, gpu-2026-11-27, cpu-study-2026-12-06, docs/performance.md.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections import defaultdict
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import DeviceType
from torch.overrides import TorchFunctionMode
from torch.profiler import ProfilerActivity, profile

from inception_bench.bench.settings import BenchSettings
from inception_bench.bench.setups import Setup
from inception_bench.bench.steps import make_step
from inception_bench.errors import run_script
from inception_bench.models.blocks import ConvBlock, InceptionReduced
from inception_bench.run.engine import build_for_run, prepare_device, resolve_device
from inception_bench.run.settings import parse
from inception_bench.spec import load_spec, parse_overrides

# Kinds of time, first match wins, on lower-cased kernel or operator names. inductor names its kernels after the
# operators they fuse (``triton_poi_fused__to_copy_convolution_relu_2`` is the bias + ReLU + cast epilogue of a
# convolution that cuDNN ran), so its pointwise and reduction kernels are sorted apart from the GEMMs.
_GEMM_KERNELS = ("triton_tem", "cudnn", "cutlass", "xmma", "nvjet", "gemm", "fprop", "dgrad", "wgrad", "fft")
KINDS: list[tuple[str, tuple[str, ...]]] = [
    ("padding to 8 channels", ("addpadding",)),
    ("layout conversion", ("nchwtonhwc", "nhwctonchw", "transpose")),
    ("optimizer", ("foreach", "sgd", "multi_tensor", "optimizer")),
    ("batch norm", ("batch_norm", "batchnorm", "bn_fw", "bn_bw", "bn_")),  # before "cudnn": cuDNN's BN kernels
    ("convolution / GEMM", _GEMM_KERNELS),
    ("pooling", ("pool",)),
    ("inductor fused elementwise", ("triton_",)),
    ("convolution / GEMM", ("conv", "aten::mm", "aten::addmm")),  # CPU operators, cuDNN's convolve kernels
    ("concatenation", ("catarray", "aten::cat")),
]


def kind_of(name: str) -> str:
    low = name.lower()
    return next((kind for kind, keys in KINDS if any(k in low for k in keys)), "other")


def _table_name(path: str, layer_of: dict[str, str]) -> str:
    """A module's path with its layer's path replaced by the layer's table name (GoogLeNet.paths, inverted)."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in layer_of:
            return ".".join([layer_of[".".join(parts[:i])], *parts[i:]])
    return path


def conv_names(model: nn.Module, batch: int, size: int) -> dict[tuple[tuple[int, ...], ...], list[str]]:
    """Layer names by the (weight, input) shapes of the convolutions one training-mode forward runs, found by
    running a copy of the model on the meta device (no data, no arithmetic): each F.conv2d call is named after
    the innermost module running it, so the execution options' own convolutions are named too."""
    meta = copy.deepcopy(model).to("meta").train()
    stack: list[nn.Module] = []
    # named as the table names them: inception4a.branch3x3.reduce, not stages.4.inception4a.branch3x3.reduce
    layer_of = {path: name for name, path in getattr(model, "paths", {}).items()}
    module_names = {m: _table_name(n, layer_of) for n, m in meta.named_modules()}
    names: dict[tuple[tuple[int, ...], ...], list[str]] = defaultdict(list)

    class Record(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            if func is F.conv2d:
                owner = stack[-1]
                name = module_names[owner].removesuffix(".conv")
                if isinstance(owner, InceptionReduced):
                    name += " fused 1x1"
                elif isinstance(owner, ConvBlock):
                    name += " space-to-depth"
                names[(tuple(args[1].shape), tuple(args[0].shape))].append(name)
            return func(*args, **(kwargs or {}))

    def enter(module: nn.Module, _: Any) -> None:
        stack.append(module)

    def leave(module: nn.Module, _: Any, __: Any) -> None:  # returns None: the output stays as it is
        stack.pop()

    handles = [m.register_forward_pre_hook(enter) for m in meta.modules()]
    handles += [m.register_forward_hook(leave) for m in meta.modules()]
    try:
        with Record(), torch.no_grad():
            meta(torch.empty(batch, 3, size, size, device="meta"))
    finally:
        for h in handles:
            h.remove()
    return names


def conv_table(prof: Any, names: dict[tuple[tuple[int, ...], ...], list[str]], steps: int, cuda: bool) -> list[str]:
    """Lines: each convolution's forward and backward time per step, slowest first."""
    times: dict[tuple[tuple[int, ...], tuple[int, ...]], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for event in prof.key_averages(group_by_input_shape=True):
        if event.key not in ("aten::convolution", "aten::convolution_backward"):
            continue
        backward = event.key.endswith("backward")
        shapes = event.input_shapes[1:3] if backward else event.input_shapes[0:2]  # (input, weight)
        if len(shapes) < 2 or not shapes[0] or not shapes[1]:
            continue
        t = event.device_time_total if cuda else event.cpu_time_total
        times[(tuple(shapes[1]), tuple(shapes[0]))][backward] += t / steps / 1000
    lines = [f"{'layer':<48} {'weight':<18} {'input':<20} {'fwd ms':>8} {'bwd ms':>8}"]
    for (weight, inp), (fwd, bwd) in sorted(times.items(), key=lambda kv: -sum(kv[1])):
        label = ", ".join(names.get((weight, inp), ["?"]))
        lines.append(
            f"{label[:48]:<48} {'x'.join(map(str, weight)):<18} {'x'.join(map(str, inp)):<20} {fwd:8.3f} {bwd:8.3f}"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec", nargs="?", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--compile-mode", default="default")
    ap.add_argument("--fuse-1x1", action="store_true")
    ap.add_argument("--s2d-stem", action="store_true")
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
    cuda = device.type == "cuda"
    values = dict(
        mode=args.mode,
        batch_size=args.batch_size,
        image_size=args.image_size,
        precision=args.precision,
        channels_last=args.channels_last,
        compile=args.compile,
        compile_mode=args.compile_mode,
        fuse_1x1=args.fuse_1x1,
        s2d_stem=args.s2d_stem,
        device=str(device),
        steps=args.steps,
    )
    settings = parse(BenchSettings, values, "bench")
    prepare_device(device)  # as ibench bench and ibench train run
    model = build_for_run(spec, args.fuse_1x1, args.s2d_stem)
    setup = Setup.fast(settings, args.mode, device)
    step = make_step(model, args.mode, setup, device, spec.num_classes, spec.aux.loss_weight, args.image_size)
    for _ in range(3):  # warm-up (and compilation)
        step(args.batch_size, None)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities, record_shapes=True) as prof:
        start = time.perf_counter()
        for _ in range(args.steps):
            step(args.batch_size, None)
        if cuda:
            torch.cuda.synchronize()
        wall = (time.perf_counter() - start) / args.steps * 1000
    key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=25))

    kinds: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        if cuda and event.device_type == DeviceType.CUDA:  # kernels (and copies) only
            kinds[kind_of(event.key)] += event.self_device_time_total / args.steps / 1000
        elif not cuda and event.key.startswith("aten::"):
            kinds[kind_of(event.key)] += event.self_cpu_time_total / args.steps / 1000
    busy = sum(kinds.values())
    where = "GPU kernel" if cuda else "CPU operator self"
    print(f"per step: {where} time {busy:.2f} ms, wall {wall:.2f} ms (profiled), batch {args.batch_size}")
    for kind, t in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:<28} {t:8.3f} ms  {t / (busy or 1):6.1%}")
    print("\nconvolutions per step (device time on CUDA, CPU time otherwise; backward: input and weight gradients)")
    names = conv_names(model, args.batch_size, args.image_size)
    print("\n".join(conv_table(prof, names, args.steps, cuda)))
    if args.trace:
        prof.export_chrome_trace(args.trace)


if __name__ == "__main__":
    run_script(main)
