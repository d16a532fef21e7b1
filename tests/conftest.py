from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
BASE = SPECS / "googlenet.yaml"
SMALL = SPECS / "googlenet-small.yaml"
TORCHVISION = SPECS / "googlenet-torchvision.yaml"


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
    """The ``enabled`` argument of every ``GoogLeNet.fuse_1x1`` call during the test, in order."""
    from inception_bench.models import GoogLeNet

    calls: list[bool] = []
    original = GoogLeNet.fuse_1x1

    def spy(self, enabled: bool = True):
        calls.append(enabled)
        return original(self, enabled)

    monkeypatch.setattr(GoogLeNet, "fuse_1x1", spy)
    return calls


def row(raw: dict, row_id: str) -> dict:
    return next(r for r in raw["layers"] if str(r["id"]) == row_id)
