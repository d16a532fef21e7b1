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
  not written; a written file replaces ``out`` atomically. ``out`` may not be one of the run folder's own files.
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inception_bench.errors import FieldError, IbenchError, one_line
from inception_bench.models import GoogLeNet
from inception_bench.store import RunFolder, atomic_write_bytes

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
    from inception_bench.run.checkpoint import load_checkpoint, model_from_checkpoint

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


def needs_onnx(option: str = "format", value: str = "onnx") -> Any:
    """The onnxruntime module, or one error line (naming ``option``) saying how to install what ONNX needs."""
    try:
        import onnxruntime
        import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
    except ImportError:
        raise FieldError(option, f"{value} needs onnx, onnxscript and onnxruntime: {INSTALL}", value) from None
    return onnxruntime


def _free_batch() -> tuple[dict[int, Any]]:
    """torch.export's ``dynamic_shapes`` for a model of one input whose batch dimension is free."""
    return ({0: torch.export.Dim("batch", min=1)},)


def write_onnx(model: torch.nn.Module, path: Path, x: torch.Tensor) -> None:
    """``model`` (in eval mode) as ONNX at ``path``, traced with ``x``, its batch dimension free."""
    program = torch.onnx.export(
        model, (x,), dynamo=True, dynamic_shapes=_free_batch(), opset_version=ONNX_OPSET, verbose=False
    )
    assert program is not None  # dynamo=True returns the program
    program.save(str(path), external_data=False)


def onnx_session(path: Path, threads: int = 0) -> Any:
    """An onnxruntime session on the CPU for the ONNX file at ``path`` (``threads``: intra-op threads, 0: its
    default)."""
    ort = needs_onnx()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep, not spin
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _write(model: GoogLeNet, fmt: str, path: Path, x: torch.Tensor) -> None:
    if fmt == "onnx":
        write_onnx(model, path, x)
    elif fmt == "torchscript":
        with warnings.catch_warnings():  # TorchScript is deprecated in favour of pt2: asked for by name here
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.save(torch.jit.trace(model, x), str(path))
    else:
        torch.export.save(torch.export.export(model, (x,), dynamic_shapes=_free_batch()), str(path))


def run_exported(path: Path, fmt: str, x: torch.Tensor) -> torch.Tensor:
    """The logits the exported model at ``path`` gives for ``x`` (ONNX through onnxruntime on the CPU)."""
    if fmt == "onnx":
        session = onnx_session(path)
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
    if out.resolve().parent == checkpoint.resolve().parent and RunFolder.owns(out.name):
        raise FieldError("out", "is one of the run's own files; give another name (e.g. model.onnx)", out)
    if out.is_dir():
        raise FieldError("out", "is a folder; give a file name", out)
    if fmt == "onnx":
        needs_onnx()
    started = time.perf_counter()
    model = deploy_model(checkpoint)
    with tempfile.TemporaryDirectory(prefix="ibench-export-") as folder, torch.no_grad():
        tmp = Path(folder) / f"model{FORMATS[fmt]}"
        try:
            _write(model, fmt, tmp, _example(model, TRACE_BATCH, seed=0))
        except Exception as e:  # torch's exporters fail with many types; one line, the format named
            raise FieldError("format", f"the exporter failed ({one_line(e)})", fmt) from None
        x = _example(model, CHECK_BATCH, seed=1)
        expected = model(x)
        try:
            got = run_exported(tmp, fmt, x).float()
            diff = (got - expected).abs().max().item() if got.shape == expected.shape else math.inf
        except Exception as e:  # the file does not load or run: it is not written
            raise IbenchError(f"{out}: not written: the exported file does not run ({one_line(e)})") from None
        tolerance = TOLERANCE * max(1.0, expected.abs().max().item())
        if not diff <= tolerance:
            raise IbenchError(
                f"{out}: not written: the exported model's logits differ from the PyTorch model's by up to {diff:.3g}"
                f" (allowed {tolerance:.3g})"
            )
        atomic_write_bytes(out, tmp.read_bytes())
    return Exported(out, fmt, tuple(x.shape), diff, tolerance, time.perf_counter() - started)
