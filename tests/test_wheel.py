"""The package as a user installs it: a wheel built from this checkout, installed outside it, finds its shipped
specs and ablation files (package data, importlib.resources) and runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel's files installed into a folder of their own (the checkout's dependencies reused)."""
    tmp = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w"]
    subprocess.run([*build, str(tmp / "dist")], check=True, cwd=tmp, capture_output=True)
    (wheel,) = (tmp / "dist").glob("inception_bench-*.whl")
    target = tmp / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)]
    subprocess.run(install, check=True, capture_output=True)
    return target


def _python(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}  # ahead of the checkout's editable install
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_wheel_finds_its_specs_outside_the_checkout(installed, tmp_path):
    code = (
        "import inception_bench as ib, torch; "
        f"assert ib.__file__.startswith({str(installed)!r}), ib.__file__; "
        "m = ib.create_model('small'); m.eval(); "
        "print(tuple(m(torch.zeros(1, 3, 32, 32)).shape))"
    )
    result = _python(installed, tmp_path, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1, 10)"
    count = _python(installed, tmp_path, "-m", "inception_bench", "count", "paper")
    assert count.returncode == 0, count.stderr
    assert "inception (3a)" in count.stdout and "inception (5b)" in count.stdout  # Table 1, from the shipped spec


def test_a_shipped_ablation_by_name_from_the_wheel(installed, tmp_path):
    result = _python(installed, tmp_path, "-m", "inception_bench", "ablate", "quick", "--dry-run", "--out", "q")
    assert result.returncode == 0, result.stderr
    assert "module-naive_aux.enabled-off" in result.stdout
