"""The GPU session's prepared scripts, run on the CPU with tiny settings so that they work when a device is lent
(device time is too scarce to debug them there)."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT, SMALL, TORCHVISION
from typer.testing import CliRunner

from inception_bench.cli import app


def _script(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_profile_step_names_every_convolution_and_sums_its_kinds():
    out = _script("scripts/profile_step.py", str(TORCHVISION), "--set", "width_mult=0.25", "--image-size", "64",
                  "--batch-size", "2", "--steps", "1", "--fuse-1x1", "--s2d-stem")  # fmt: skip
    shares = [float(s) for s in re.findall(r"^  \S.*?\s([\d.]+)%$", out, flags=re.M)]
    assert shares and abs(sum(shares) - 100) < 0.5, out
    table = out.split("convolutions per step")[1].splitlines()[2:]
    rows = {line.split()[0]: line.split() for line in table if line.strip()}
    # conv1 (16 filters of 7x7 over 3 channels at width 0.25) as 4x4 over the blocks of a 64 + 6 px image
    assert rows["conv1"][1:3] == ["space-to-depth", "16x16x4x4"] and rows["conv1"][3] == "2x16x35x35"
    # the torchvision spec's nine modules each run their 1x1, 3x3 reduce and "5x5" reduce as one
    assert sum(" fused 1x1 " in line for line in table) == 9
    assert not any(line.startswith("?") for line in table)  # every convolution that ran is named


def test_bench_targets_reads_a_bench_csv(tmp_path):
    csv = tmp_path / "bench.csv"
    tiny = ["--set", "width_mult=0.125", "--image-size", "32", "--batch-size", "2", "--steps", "1", "--warmup", "0"]
    result = CliRunner().invoke(app, ["bench", str(SMALL), *tiny, "-o", str(csv)])
    assert result.exit_code == 0, result.output
    out = _script("scripts/bench_targets.py", str(csv))
    for mode, target in (("train", "3.0"), ("infer", "4.0")):
        line = next(line for line in out.splitlines() if line.startswith(f"{mode} ("))
        assert "specs/googlenet-small.yaml, fp32" in line and f"target {target}x" in line


def test_stem_bench_times_the_three_ways_of_the_same_function():
    out = _script("scripts/stem_bench.py", "--batch-size", "2", "--image-size", "33", "--steps", "1", "--width", "8")
    assert float(re.search(r"relative difference (\S+)", out).group(1)) < 1e-5  # fp32: the same function
    ways = [line.split()[:-4] for line in out.splitlines()[2:]]
    assert ways == [["plain"], ["s2d"], ["s2d", "conv", "only"]] and "1.00x" in out.splitlines()[2]
