from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
BASE = SPECS / "googlenet.yaml"
SMALL = SPECS / "googlenet-small.yaml"
TORCHVISION = SPECS / "googlenet-torchvision.yaml"
DATA = ROOT / "tests" / "data"
# ibench train options for a one-epoch run of an eighth-width network on synthetic data
TINY_CLI = ["--set", "width_mult=0.125", "--data", "synthetic", "--epochs", "1", "--device", "cpu", "--workers", "0"]


# `make test` runs the files on every core (pytest-xdist, one worker per core): one thread per worker, and for the
# processes the tests start, so that the workers do not oversubscribe the cores (OpenMP threads spin)
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"

# module fixtures that run a real (tiny) ablation or training, or a Ray head
SLOW_FIXTURES = {"grid", "finished", "head", "small_run"}


def pytest_collection_modifyitems(items: list) -> None:
    """Tests that use a real ablation are slow (``make test-fast`` leaves them out)."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def write_ablation(tmp_path: Path, raw: dict) -> Path:
    """The ablation file ``raw`` as ``<its name>.yaml`` in ``tmp_path``."""
    path = tmp_path / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def invoke_ablate(*args: object) -> Any:
    """``ibench ablate ARGS...`` in this process (typer's CliRunner result)."""
    from typer.testing import CliRunner

    from inception_bench.cli import app

    return CliRunner().invoke(app, ["ablate", *map(str, args)])


@pytest.fixture
def base_raw() -> dict:
    return yaml.safe_load(BASE.read_text())


@pytest.fixture
def write_spec(tmp_path: Path):
    def write(raw: dict | str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False))
        return path

    return write


@pytest.fixture
def fuse_1x1_calls(monkeypatch) -> list[bool]:
    """The ``enabled`` argument of every ``GoogLeNet.fuse_1x1`` call on a real (not meta-device) model during the
    test, in order."""
    from inception_bench.models import GoogLeNet

    calls: list[bool] = []
    original = GoogLeNet.fuse_1x1

    def spy(self, enabled: bool = True):
        if not next(self.parameters()).is_meta:  # the models the option checks build on the meta device
            calls.append(enabled)
        return original(self, enabled)

    monkeypatch.setattr(GoogLeNet, "fuse_1x1", spy)
    return calls


def row(raw: dict, row_id: str) -> dict:
    return next(r for r in raw["layers"] if str(r["id"]) == row_id)


def reference_counts(model, size: int) -> tuple[int, int, int]:
    """Conv/linear weights outside the aux heads, torch's FlopCounterMode multiply-adds (eval mode, one image),
    and every parameter outside the aux heads: from the module tree and torch's counter, independently of
    inception_bench.count."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    aux = [m for n, m in model.named_modules() if n.split(".")[-1].startswith("aux")]
    in_aux = {id(m) for head in aux for m in head.modules()} | {id(p) for head in aux for p in head.parameters()}
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear) and id(m) not in in_aux]
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    params_all = sum(p.numel() for p in model.parameters() if id(p) not in in_aux)
    return sum(m.weight.numel() for m in layers), counter.get_total_flops() // 2, params_all


def slow_first_compile(delay: float, seen: list[bool] | None = None):
    """A stand-in for ``torch.compile`` (monkeypatch it in): the model itself, wrapped so that its first call takes
    ``delay`` seconds longer, as a compilation would, and appends to ``seen`` whether inductor's freezing was on
    then."""
    import time

    import torch

    def fake_compile(model, mode=None, dynamic=None):
        class FirstCallSlow(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner, self.calls = model, 0

            def forward(self, x):
                self.calls += 1
                if self.calls == 1:
                    from torch._inductor import config

                    if seen is not None:
                        seen.append(bool(config.freezing))
                    time.sleep(delay)
                return self.inner(x)

        return FirstCallSlow()

    return fake_compile
