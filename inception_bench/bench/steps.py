"""The steps ``ibench bench`` times: a training or inference step of a model in a setup (torch, eager or
compiled), or inference of the model converted for another CPU runtime (its ONNX export in onnxruntime, or
OpenVINO's own conversion); and the batch sizes an out-of-memory steps down through."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from inception_bench.bench.setups import Setup
from inception_bench.errors import FieldError, one_line
from inception_bench.run.engine import (
    autocast_for,
    compiled,
    train_step,
)


# --------------------------------------------------------------------------------------------- measuring
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


Step = Callable[[int, Callable[[str], None] | None], None]  # (batch, phase mark or None)


def make_step(
    model: nn.Module,
    mode: str,
    setup: Setup,
    device: torch.device,
    classes: int,
    aux_weight: float,
    image_size: int,
) -> Step:
    """A function running one complete step (forward, and for training backward + SGD) at a given batch; a
    training step calls ``mark(phase)`` after each phase when given one."""
    autocast = autocast_for(device, setup.precision)
    fmt = torch.channels_last if setup.channels_last else torch.contiguous_format
    model = model.to(device).to(memory_format=fmt)
    runner = compiled(model, setup.compile, setup.compile_mode, dynamic=False)
    optimizer = (
        torch.optim.SGD(
            model.parameters(), lr=1e-3, momentum=0.9, nesterov=True, fused=device.type == "cuda" or None
        )  # ibench train's optimizer (its default recipe)
        if mode == "train"
        else None
    )
    scaler = torch.amp.GradScaler("cuda", enabled=setup.precision == "fp16" and mode == "train")
    cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        if n not in cache:
            cache.clear()
            x = torch.randn(n, 3, image_size, image_size, device=device)
            cache[n] = (x.contiguous(memory_format=fmt), torch.randint(0, classes, (n,), device=device))
        return cache[n]

    def step(n: int, mark: Callable[[str], None] | None = None) -> None:
        x, y = batch(n)
        if optimizer is None:
            model.eval()
            with autocast(), torch.inference_mode():
                runner(x)
            return
        model.train()
        train_step(runner, x, y, optimizer, scaler, autocast, aux_weight, mark)  # no clipping: as timm times it

    return step


def onnxruntime_step(model: nn.Module, image_size: int) -> Step:
    """An inference step of ``model`` exported to ONNX and run by onnxruntime on the CPU with torch's intra-op
    thread count, its threads not spinning between steps (the torch setups share the cores); the batch is free."""
    from inception_bench.evaluate.export import onnx_session, write_onnx

    with tempfile.TemporaryDirectory(prefix="ibench-onnx-") as folder, torch.no_grad():
        path = Path(folder) / "model.onnx"  # onnxruntime holds the model in memory: the file goes with the folder
        try:
            write_onnx(model.eval(), path, torch.randn(2, 3, image_size, image_size))
        except Exception as e:  # torch's exporter fails with many types: one line, the option named
            why = f"the model does not export to ONNX ({one_line(e, 200)})"
            raise FieldError("runtime", why, "onnxruntime") from None
        session = onnx_session(path, threads=torch.get_num_threads())
    name = session.get_inputs()[0].name
    cache: dict[int, Any] = {}

    def step(n: int, mark: Callable[[str], None] | None = None) -> None:
        if n not in cache:
            cache.clear()
            cache[n] = torch.randn(n, 3, image_size, image_size).numpy()
        session.run(None, {name: cache[n]})

    return step


OPENVINO_INSTALL = "pip install 'inception-bench[openvino]'"
# A converted model's logits against torch's fp32 logits on one batch, before it is timed: largest |difference| /
# max(1, largest |logit|). bf16 keeps 8 bits of mantissa, so its bound is loose; it still catches a wrong graph.
OPENVINO_TOLERANCE = {"fp32": 1e-4, "bf16": 5e-2}


def needs_openvino() -> Any:
    """The openvino module, or one error line naming ``--runtime`` and how to install it."""
    try:
        import openvino
    except ImportError:
        raise FieldError("runtime", f"openvino needs the openvino package: {OPENVINO_INSTALL}", "openvino") from None
    return openvino


@functools.cache
def openvino_bf16() -> bool:
    """Whether OpenVINO's CPU plugin runs bf16 on this CPU (AVX-512 BF16 or AMX): without it a bf16 hint would run
    fp32 and the row would be mislabelled."""
    return "BF16" in needs_openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def openvino_step(model: nn.Module, image_size: int, precision: str) -> Step:
    """An inference step of ``model`` converted by OpenVINO (``openvino.convert_model``, batch dimension free) and
    compiled for its CPU plugin with the inference precision hint ``precision`` (fp32 | bf16), torch's intra-op
    thread count, one stream and the latency hint (one request at a time, as the torch setups run). Before it is
    timed, its logits are compared with the model's own (float32) on a batch of 3: beyond
    ``OPENVINO_TOLERANCE[precision]`` it is refused, so a row never times a wrong graph."""
    ov = needs_openvino()
    model = model.eval()
    check = torch.randn(3, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        try:
            converted = ov.convert_model(model, example_input=check, input=[(-1, 3, image_size, image_size)])
        except Exception as e:  # the converter fails with many types: one line, the option named
            raise FieldError("runtime", f"OpenVINO cannot convert the model ({one_line(e, 200)})", "openvino") from None
        expected = model(check)
    config = {
        "INFERENCE_PRECISION_HINT": {"fp32": "f32", "bf16": "bf16"}[precision],
        "INFERENCE_NUM_THREADS": torch.get_num_threads(),
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
    }
    request = ov.Core().compile_model(converted, "CPU", config).create_infer_request()
    got = torch.from_numpy(request.infer({0: check.numpy()})[0].copy())
    error = float((got - expected).abs().max()) / max(1.0, float(expected.abs().max()))
    if not error <= OPENVINO_TOLERANCE[precision]:
        bound = OPENVINO_TOLERANCE[precision]
        why = f"OpenVINO's {precision} logits differ from torch's by {error:.2g} of the largest (over {bound})"
        raise FieldError("runtime", why, "openvino")
    cache: dict[int, Any] = {}

    def step(n: int, mark: Callable[[str], None] | None = None) -> None:
        if n not in cache:
            cache.clear()
            cache[n] = torch.randn(n, 3, image_size, image_size).numpy()
        request.infer({0: cache[n]})

    return step


def decay_batch_step(batch: int) -> int:
    """The next smaller batch to try after running out of memory: the largest number of the form 2^k or 3 x 2^k
    below ``batch`` (64 -> 48 -> 32 -> 24 -> 16 -> 12 -> 8 -> 6 -> 4 -> 3 -> 2 -> 1), so a batch that nearly fits
    loses a quarter or a third, not half (timm's ``decay_batch_step`` with two steps per halving)."""
    if batch <= 1:
        raise ValueError("no batch below 1")
    candidates = [1]
    k = 1
    while k < batch:
        candidates += [k, 3 * k // 2] if k >= 2 else [k]
        k *= 2
    return max(c for c in candidates if c < batch)
