"""``ibench export``: each format loaded back here with its own runtime (onnxruntime, torch.jit, torch.export) and
its logits compared with the network built here from the checkpoint's weights, for a trained small-spec run and
for the paper's spec at 224 x 224."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from conftest import BASE, SMALL
from typer.testing import CliRunner

from inception_bench.cli import app
from inception_bench.models import build_model
from inception_bench.run.settings import Recipe
from inception_bench.run.train import train
from inception_bench.spec import load_spec

runner = CliRunner()
NO_ONNX = "the dev extra installs onnx, onnxscript and onnxruntime"
TOLERANCE = 1e-4  # the stated bound: |logit difference| <= 1e-4 x max(1, largest |logit|)


def _export(*args):
    return runner.invoke(app, ["export", *map(str, args)])


def _run(path, fmt: str, x: torch.Tensor) -> torch.Tensor:
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
    if fmt == "torchscript":
        return torch.jit.load(str(path))(x)
    return torch.export.load(str(path)).module()(x)


def _close(got: torch.Tensor, expected: torch.Tensor) -> bool:
    return (got - expected).abs().max().item() <= TOLERANCE * max(1.0, expected.abs().max().item())


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A trained small-spec run (1 epoch, eighth width, with its weight average and aux heads), and the network its
    headline uses, built here in eval mode: the average's weights (``module.*``) or the raw ones, whichever the run
    found better (``weights``)."""
    out = tmp_path_factory.mktemp("export") / "run"
    spec = load_spec(SMALL, {"width_mult": 0.125})
    recipe = Recipe(data="synthetic", epochs=1, batch_size=32, device="cpu", workers=0, seed=0)
    train(spec, recipe, out, progress="none")
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["averaged"] is not None and spec.spec.aux.enabled
    model = build_model(spec.spec).eval()
    average = {k[len("module.") :]: v for k, v in ckpt["averaged"].items() if k.startswith("module.")}
    model.load_state_dict(average if ckpt["weights"] == "ema" else ckpt["model"])  # the better on validation
    return out, model


@pytest.mark.parametrize("fmt", ["onnx", "torchscript", "pt2"])
def test_each_format_gives_the_trained_networks_logits_at_any_batch_size(small_run, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime", reason=NO_ONNX)
    out, model = small_run
    target = out / f"exported.{fmt}"
    result = _export(out / "checkpoint.pt", "--format", fmt, "--out", target)
    assert result.exit_code == 0, result.output
    assert f"wrote {target} ({fmt}" in result.stdout and "checked on a 3x3x32x32 batch" in result.stdout
    for batch in (1, 5):  # neither the traced batch size (2) nor the checked one (3)
        x = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            expected = model(x)
            assert _close(_run(target, fmt, x), expected)
            assert not _close(_run(target, fmt, x + 1.0), expected)  # the comparison can fail


def test_no_aux_head_is_exported(small_run):
    onnx = pytest.importorskip("onnx", reason=NO_ONNX)
    pytest.importorskip("onnxruntime", reason=NO_ONNX)

    out, model = small_run
    assert _export(out / "checkpoint.pt", "--format", "onnx", "--out", out / "m.onnx").exit_code == 0
    assert _export(out / "checkpoint.pt", "--format", "pt2", "--out", out / "m.pt2").exit_code == 0
    initializers = sum(t.dims and int(torch.tensor(t.dims).prod()) for t in onnx.load(out / "m.onnx").graph.initializer)
    no_aux = sum(p.numel() for name, p in model.named_parameters() if ".aux" not in name)
    # batch norm's running statistics are weights to ONNX: all the non-aux tensors, no aux one
    buffers = sum(b.numel() for name, b in model.named_buffers() if ".aux" not in name and "num_batches" not in name)
    assert no_aux < sum(p.numel() for p in model.parameters())  # the model has aux heads to drop
    assert initializers <= no_aux + buffers
    program = torch.export.load(str(out / "m.pt2"))  # its weights: the network's, by name, but the aux heads'
    assert set(program.state_dict) == {k for k in model.state_dict() if ".aux" not in k}


@pytest.mark.slow
def test_the_papers_network_at_224_exports_to_onnx(tmp_path):
    """The paper's spec (Table 1, 224 x 224, 1000 classes), random weights and batch-norm statistics, written as a
    checkpoint by hand: what ONNX Runtime computes is what the network computes."""
    pytest.importorskip("onnxruntime", reason=NO_ONNX)
    spec = load_spec(BASE).spec
    torch.manual_seed(0)
    model = build_model(spec)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    torch.save(
        {
            "format": "ibench-checkpoint-2",
            "spec": spec.model_dump(mode="json"),
            "model": model.state_dict(),
            "averaged": None,
            "weights": "raw",
        },
        tmp_path / "checkpoint.pt",
    )
    result = _export(tmp_path / "checkpoint.pt")  # default: onnx, beside the checkpoint
    assert result.exit_code == 0, result.output
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        assert _close(_run(tmp_path / "model.onnx", "onnx", x), model.eval()(x))


def test_bad_input_is_one_line_and_nothing_is_lost(small_run, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime", reason=NO_ONNX)
    out, _ = small_run
    missing = _export(tmp_path / "nope.pt", "--out", tmp_path / "m.onnx")
    assert missing.exit_code == 2 and "checkpoint not found" in missing.stderr and "Traceback" not in missing.output
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    junk = _export(tmp_path / "junk.pt", "--out", tmp_path / "m.onnx")
    assert junk.exit_code == 2 and "junk.pt: " in junk.stderr and len(junk.stderr.strip().splitlines()) == 1
    target = tmp_path / "kept.onnx"
    target.write_bytes(b"an earlier export")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    absent = _export(out / "checkpoint.pt", "--out", target)
    assert absent.exit_code == 2 and "--format onnx: onnx needs onnx, onnxscript and onnxruntime: pip install" in (
        absent.stderr
    )
    assert len(absent.stderr.strip().splitlines()) == 1
    monkeypatch.delitem(sys.modules, "onnxruntime")
    import inception_bench.evaluate.export as export

    real = export.run_exported
    monkeypatch.setattr(export, "run_exported", lambda *a: real(*a) + 0.01)  # an exporter that got it wrong
    wrong = _export(out / "checkpoint.pt", "--out", target)
    assert wrong.exit_code == 2 and "not written: the exported model's logits differ" in wrong.stderr
    assert target.read_bytes() == b"an earlier export" and sorted(p.name for p in tmp_path.iterdir()) == [
        "junk.pt",
        "kept.onnx",
    ]  # no temporary file left
    monkeypatch.setattr(export, "run_exported", real)

    def broken(*args):
        raise RuntimeError("Unsupported: data-dependent control flow\n  at line 3")

    monkeypatch.setattr(export, "_write", broken)
    failed = _export(out / "checkpoint.pt", "--out", target)
    assert failed.exit_code == 2 and "--format onnx: the exporter failed (RuntimeError: Unsupported:" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1 and target.read_bytes() == b"an earlier export"
    monkeypatch.undo()
    for own_file in ("checkpoint.pt", "final.json", "eval-1crop.json"):  # however the path is written
        own = _export(out / "checkpoint.pt", "--out", out / ".." / out.name / own_file)
        assert own.exit_code == 2 and "is one of the run's own files" in own.stderr
    assert json.loads((out / "final.json").read_text())["status"] == "completed"
    folder = _export(out / "checkpoint.pt", "--out", tmp_path)
    assert folder.exit_code == 2 and "is a folder; give a file name" in folder.stderr


def test_the_cli_offers_exactly_the_formats_export_writes():
    # the CLI lists the formats itself (it may not import torch for --help): the two lists must not drift apart
    from inception_bench.cli import ExportFormat
    from inception_bench.evaluate.export import FORMATS

    assert sorted(ExportFormat) == sorted(FORMATS)
