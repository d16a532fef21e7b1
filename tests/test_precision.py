"""The precision of a run: ``auto`` resolves by the hardware (bf16 on CUDA and on CPUs with native bf16 matrix
units), the choice is printed and recorded, and bf16 training keeps its numerics in fp32 where it matters. The
fp32 path is tested on every machine, the bf16 path where the CPU has native bf16."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import SMALL, TINY_CLI
from typer.testing import CliRunner

from inception_bench.cli import app
from inception_bench.errors import FieldError
from inception_bench.models import build_model
from inception_bench.run import engine
from inception_bench.run.engine import WeightAverage, autocast_for, loss_fn, resolve_precision, train_step
from inception_bench.run.settings import Recipe
from inception_bench.run.setup import setup
from inception_bench.run.train import evaluate_epoch, train, train_epoch
from inception_bench.spec import load_spec
from inception_bench.store import RunFolder

runner = CliRunner()
CPU = torch.device("cpu")


def _flags() -> set[str]:
    info = Path("/proc/cpuinfo")
    if not info.exists():
        return set()
    return {f for line in info.read_text().splitlines() if line.startswith("flags") for f in line.split()[2:]}


NATIVE_BF16 = bool({"avx512_bf16", "amx_bf16"} & _flags())  # what the kernel reports, not torch's checks
needs_bf16 = pytest.mark.skipif(not NATIVE_BF16, reason="the CPU has no native bf16 (avx512_bf16 / amx_bf16)")


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="no /proc/cpuinfo to compare with")
def test_native_bf16_detection_agrees_with_the_kernels_cpu_flags():
    assert engine.cpu_has_native_bf16() == NATIVE_BF16


def test_auto_precision_follows_the_hardware(monkeypatch):
    monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda: False)
    assert resolve_precision("auto", CPU) == "fp32"
    monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision("auto", CPU) == "bf16"
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    assert resolve_precision("fp32", CPU) == "fp32" and resolve_precision("bf16", CPU) == "bf16"  # forced
    with pytest.raises(FieldError, match="precision=fp16: only on CUDA"):
        resolve_precision("fp16", CPU)
    with pytest.raises(FieldError, match="precision=fp8: use auto, fp32, bf16 or fp16"):
        resolve_precision("fp8", CPU)


def test_the_loss_is_fp32_whatever_the_logits_come_in():
    logits = torch.randn(8, 10).to(torch.bfloat16)
    target = torch.randint(0, 10, (8,))
    loss = loss_fn(logits, target, 0.3)
    assert loss.dtype == torch.float32
    # the mean negative log-softmax of the target, in float64 from the bf16 values, by hand
    x = logits.double()
    expect = (x.exp().sum(1).log() - x[torch.arange(8), target]).mean()
    assert float(loss) == pytest.approx(float(expect), rel=1e-6)


@pytest.mark.parametrize("precision", ["fp32", pytest.param("bf16", marks=needs_bf16)])
def test_a_training_step_keeps_weights_gradients_and_optimizer_state_in_fp32(precision):
    spec = load_spec(SMALL, {"width_mult": 0.125}).spec
    model = build_model(spec).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    average = WeightAverage(model, 0.99)
    images = torch.randn(4, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    target = torch.randint(0, 10, (4,))
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    seen = []
    model.register_forward_hook(lambda m, i, out: seen.append(out.logits.dtype))
    loss, norm = train_step(
        model, images, target, optimizer, scaler, autocast_for(CPU, precision), 0.3, clip_grad_norm=1e-3
    )
    average.update_parameters(model)
    # clipped: the gradients the optimizer stepped with have a global L2 norm of 1e-3, from a larger one
    grads = torch.cat([p.grad.double().flatten() for p in model.parameters() if p.grad is not None])
    assert norm is not None and float(norm) > 1e-2
    assert float(grads.norm()) == pytest.approx(1e-3, rel=1e-3)
    assert seen == [torch.bfloat16 if precision == "bf16" else torch.float32]  # the network ran in it
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert all(
        p.dtype == torch.float32 and p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters()
    )
    assert all(s["momentum_buffer"].dtype == torch.float32 for s in optimizer.state.values())
    assert all(p.dtype == torch.float32 for p in average.module.parameters())


def _config(out: Path) -> dict:
    return json.loads((out / "config.json").read_text())


def test_the_choice_is_printed_and_recorded(tmp_path):
    result = runner.invoke(app, ["train", str(SMALL), *TINY_CLI, "--out", str(tmp_path / "auto")])
    assert result.exit_code == 0, result.output
    expect = "bf16" if NATIVE_BF16 else "fp32"
    why = "has" if NATIVE_BF16 else "lacks"
    assert f"{expect} (auto: the CPU {why} native bf16 matrix support)" in result.stderr
    assert (
        _config(tmp_path / "auto")["precision"] == expect
        and _config(tmp_path / "auto")["recipe"]["precision"] == "auto"
    )
    forced = runner.invoke(app, ["train", str(SMALL), *TINY_CLI, "--precision", "fp32", "--out", str(tmp_path / "f")])
    assert forced.exit_code == 0 and "fp32 (forced)" in forced.stderr
    assert _config(tmp_path / "f")["precision"] == "fp32"


def test_a_run_resumed_under_auto_goes_on_in_the_precision_it_started_in(tmp_path, monkeypatch):
    # started where auto meant fp32 (older code, or a CPU without bf16), resumed where auto means bf16
    spec = load_spec(SMALL, {"width_mult": 0.125})
    recipe = Recipe(data="synthetic", epochs=2, batch_size=32, seed=0, device="cpu", workers=0)
    out = tmp_path / "run"
    monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda: False)
    assert train(spec, recipe, out, stop_after=1, progress="none").status == "interrupted"
    monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda: True)
    assert train(spec, recipe, out, resume=True, progress="none").status == "completed"
    assert _config(out)["precision"] == "fp32"
    assert train(spec, recipe, tmp_path / "new", stop_after=1, progress="none").status == "interrupted"
    assert _config(tmp_path / "new")["precision"] == "bf16"  # a new run takes what auto means now


def test_a_compiled_run_records_its_compilation_apart(tmp_path, monkeypatch):
    # torch.compile stood in for by a wrapper that, on a fake clock, "compiles" for 1 s at each new batch size (as
    # dynamo recompiles for the last, partial batch) and takes 2 ms per image: 512 synthetic images in batches of
    # 48 are 10 full batches and one of 32, so the epoch holds 2 s of compilation and 1.024 s of steps
    import inception_bench.run.train as train_module

    class Clock:
        now = 0.0

        def perf_counter(self) -> float:
            return self.now

    clock = Clock()

    def fake_compile(model, mode=None, dynamic=None):
        class FakeCompiled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner, self.sizes = model, set()

            def forward(self, x):
                if len(x) not in self.sizes:
                    self.sizes.add(len(x))
                    clock.now += 1.0
                clock.now += 0.002 * len(x)
                return self.inner(x)

        return FakeCompiled()

    monkeypatch.setattr(torch, "compile", fake_compile)
    recipe = Recipe(data="synthetic", epochs=2, batch_size=48, seed=0, device="cpu", workers=0, compile=True)
    run = setup(load_spec(SMALL, {"width_mult": 0.125}), recipe, RunFolder(tmp_path))
    monkeypatch.setattr(train_module, "time", clock)
    _, seen, seconds = train_epoch(run, 0)
    assert seen == 512 and run.compile_seconds == pytest.approx(2.0) and seconds == pytest.approx(1.024)
    first = evaluate_epoch(run, 0, 1.0, seen, seconds)
    _, seen, seconds = train_epoch(run, 1)  # compiled already: nothing timed apart
    second = evaluate_epoch(run, 1, 1.0, seen, seconds)
    assert first["compile_seconds"] == pytest.approx(2.0) and "compile_seconds" not in second
    assert first["images_per_sec"] == pytest.approx(512 / 1.024) == second["images_per_sec"]
