"""A trained network out of the tool, for deployment: ONNX, TorchScript or torch.export's ``.pt2``.

Conventions:

- **What is exported**: the weights a run's headline uses (the average when it has one, as ``ibench eval``), in
  eval mode (batch norm on its running statistics), without the auxiliary heads, which only training uses. The
  graph is the function of ``model.eval()(x)``: normalised images in, logits out (no softmax).
- **Input**: a float32 batch ``N x C x H x W`` at the spec's input size and channels, images normalised as the
  run's data were; the batch size ``N`` is free (a dynamic dimension), the rest fixed.
- **Checked**: every export is loaded back and run (ONNX with onnxruntime, the others with torch) on a batch of
  another size than the one traced, and its logits compared with the PyTorch model's: the largest absolute
  difference must be within ``TOLERANCE`` times the largest logit (at least 1). A file that fails the check is
  not written; a written file replaces ``out`` atomically.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inception_bench.errors import FieldError, IbenchError
from inception_bench.models import GoogLeNet

FORMATS = {"onnx": ".onnx", "torchscript": ".ts.pt", "pt2": ".pt2"}  # each format's file name ending
TOLERANCE = 1e-4  # largest |logit difference| / max(1, largest |logit|), float32 on the CPU
TRACE_BATCH, CHECK_BATCH = 2, 3  # traced with one batch size, checked with another: the batch dimension is free
ONNX_OPSET = 18
INSTALL = "pip install 'inception-bench[export]' (onnx, onnxscript and onnxruntime)"


@dataclass(frozen=True)
class Exported:
    """What :func:`export_checkpoint` wrote and how its check went."""

    path: Path
    format: str
    input_shape: tuple[int, ...]  # with the batch dimension as checked
    max_abs_diff: float  # largest |logit difference| to the PyTorch model on the check batch
    tolerance: float  # the bound it met (absolute)
    seconds: float


def deploy_model(checkpoint: Path) -> GoogLeNet:
    """The trained network of ``checkpoint`` for inference: headline weights, eval mode, no aux heads."""
    from inception_bench.checkpoint import load_checkpoint, model_from_checkpoint

    model = model_from_checkpoint(load_checkpoint(checkpoint), source=str(checkpoint)).eval()
    for name in model.aux_names:  # not called in eval mode; removed so that no export carries their weights
        parent, _, attr = model.paths[name].rpartition(".")
        delattr(model.get_submodule(parent), attr)
    model.aux_names = ()
    return model


def _example(model: GoogLeNet, batch: int, seed: int) -> torch.Tensor:
    spec = model.spec
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, spec.in_channels, spec.input_size, spec.input_size, generator=generator)


def _needs_onnx() -> Any:
    try:
        import onnxruntime
        import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
    except ImportError:
        raise FieldError("format", f"onnx needs onnx, onnxscript and onnxruntime: {INSTALL}", "onnx") from None
    return onnxruntime


def _write(model: GoogLeNet, fmt: str, path: Path, x: torch.Tensor) -> None:
    batch = torch.export.Dim("batch", min=1, max=4096)
    if fmt == "onnx":
        program = torch.onnx.export(
            model, (x,), dynamo=True, dynamic_shapes=({0: batch},), opset_version=ONNX_OPSET, verbose=False
        )
        assert program is not None  # dynamo=True returns the program
        program.save(str(path), external_data=False)
    elif fmt == "torchscript":
        with warnings.catch_warnings():  # TorchScript is deprecated in favour of pt2: asked for by name here
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.save(torch.jit.trace(model, x), str(path))
    else:
        torch.export.save(torch.export.export(model, (x,), dynamic_shapes=({0: batch},)), str(path))


def run_exported(path: Path, fmt: str, x: torch.Tensor) -> torch.Tensor:
    """The logits the exported model at ``path`` gives for ``x`` (ONNX through onnxruntime on the CPU)."""
    if fmt == "onnx":
        ort = _needs_onnx()
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (name,) = [i.name for i in session.get_inputs()]
        return torch.from_numpy(session.run(None, {name: x.numpy()})[0])
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(str(path), map_location="cpu")(x)
    return torch.export.load(str(path)).module()(x)


def export_checkpoint(checkpoint: Path, fmt: str, out: Path) -> Exported:
    """Export the network of ``checkpoint`` as ``fmt`` to ``out`` and check it (see the module docstring)."""
    if fmt not in FORMATS:
        raise FieldError("format", f"must be one of {', '.join(FORMATS)}", fmt)
    if fmt == "onnx":
        _needs_onnx()
    started = time.perf_counter()
    model = deploy_model(checkpoint)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=f".tmp{FORMATS[fmt]}", dir=out.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # as a plain open() would create it
    try:
        with torch.no_grad():
            try:
                _write(model, fmt, Path(tmp), _example(model, TRACE_BATCH, seed=0))
            except Exception as e:  # torch's exporters fail with many types; one line, the format named
                why = " ".join(str(e).split())[:300]
                raise FieldError("format", f"the exporter failed ({type(e).__name__}: {why})", fmt) from None
            x = _example(model, CHECK_BATCH, seed=1)
            expected = model(x)
            got = run_exported(Path(tmp), fmt, x)
        diff = (got.float() - expected).abs().max().item()
        tolerance = TOLERANCE * max(1.0, expected.abs().max().item())
        if not diff <= tolerance:
            raise IbenchError(
                f"{out}: not written: the exported model's logits differ from the PyTorch model's by up to {diff:.3g}"
                f" (allowed {tolerance:.3g})"
            )
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return Exported(out, fmt, tuple(x.shape), diff, tolerance, time.perf_counter() - started)
