"""``ibench lr-find``: the geometric sweep, the smoothing, the suggestion, and the command end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL
from typer.testing import CliRunner

from inception_bench.cli import app
from inception_bench.run.lr_find import LrFind, lr_schedule, smooth, suggest

runner = CliRunner()


def test_the_sweep_is_geometric():
    assert lr_schedule(1e-5, 10.0, 61) == pytest.approx(list(np.geomspace(1e-5, 10.0, 61)), rel=1e-12)


def test_smoothing_is_the_bias_corrected_moving_average():
    losses = [4.0, 3.0, 5.0, 2.0, 2.5, 1.0]
    # pandas' adjusted exponentially weighted mean is the bias-corrected EMA written as a weighted average
    expect = pd.Series(losses).ewm(alpha=1 - 0.9, adjust=True).mean().tolist()
    assert smooth(losses, 0.9) == pytest.approx(expect, rel=1e-12)


def test_the_suggestion_is_the_steepest_descent_before_the_minimum():
    lrs = lr_schedule(1e-5, 10.0, 100)
    x = [math.log10(lr) for lr in lrs]
    # a loss that falls fastest at lr = 1e-2 (log10 = -2), bottoms out at 1e-0.5 and then rises steeply
    curve = [2 - math.tanh(2 * (v + 2)) + (40 * (v + 0.5) ** 2 if v > -0.5 else 0) for v in x]
    steepest, min_over_10 = suggest(lrs, curve)
    assert abs(math.log10(steepest) - -2) < 0.35  # within a window (a tenth of the six decades)
    best = min(range(100), key=lambda i: curve[i])
    assert min_over_10 == pytest.approx(lrs[best] / 10)
    assert suggest(lrs[:3], [1.0, 2.0, 3.0]) == (lrs[0] / 10, lrs[0] / 10)  # no descent: the minimum's rule


def test_a_curve_without_descent_is_said_to_give_no_suggestion():
    lrs = lr_schedule(1e-5, 10.0, 40)

    def result(curve):
        return LrFind(lrs, curve, curve, *suggest(lrs, curve), stopped_early=False, data="synthetic")

    falling = [5 - i / 10 for i in range(40)]  # lowest at the end: a descent, no caveat
    assert result(falling).caveat is None
    rising = [1 + i / 10 for i in range(40)]  # lowest at the first step: the suggestion lies below the sweep
    assert suggest(lrs, rising)[0] < lrs[0]
    assert result(rising).caveat.startswith("the loss was lowest at the start of the sweep (lr 1e-05, step 1 of 40)")
    late = [1.0] * 3 + [0.9] + [2.0] * 36  # lowest at step 4 of 40: within the first tenth, still settling
    assert "step 4 of 40" in result(late).caveat
    assert result([1.0] * 4 + [0.9] + [2.0] * 35).caveat is None  # step 5 of 40: past it
    assert "never finite" in result([math.nan] * 40).caveat


def test_lr_find_end_to_end(tmp_path):
    out = tmp_path / "lrf"
    args = ["lr-find", str(SMALL), "--set", "width_mult=0.125", "--data", "synthetic", "--batch-size", "16"]
    result = runner.invoke(app, [*args, "--steps", "30", "--workers", "0", "--device", "cpu", "--out", str(out)])
    assert result.exit_code == 0, result.output
    curve = pd.read_csv(out / "lr-find.csv")
    summary = json.loads((out / "lr-find.json").read_text())
    assert list(curve.columns) == ["step", "lr", "loss", "smoothed_loss"]
    assert len(curve) == summary["steps"] <= 30
    assert curve["lr"].tolist() == pytest.approx(lr_schedule(1e-5, 10.0, 30)[: len(curve)])
    # the documented rule, applied here by hand to the written curve: the middle of the steepest window (a tenth of
    # the sweep, the first tenth left out) of the smoothed loss against log10(lr) before its minimum, else (no such
    # window) a tenth of the minimum's rate
    finite = np.isfinite(curve["smoothed_loss"].to_numpy())  # a sweep may end on a diverged, non-finite loss
    lrs, smoothed = curve["lr"].to_numpy()[finite], curve["smoothed_loss"].to_numpy()[finite]
    n, best = len(lrs), int(np.argmin(smoothed))
    w = max(2, n // 10)
    slopes = [
        (smoothed[i + w] - smoothed[i]) / np.log10(lrs[i + w] / lrs[i]) for i in range(max(1, n // 10), best - w + 1)
    ]
    expect = lrs[max(1, n // 10) + int(np.argmin(slopes)) + w // 2] if slopes else lrs[best] / 10
    assert summary["suggested_lr"] == pytest.approx(expect, rel=1e-9)
    assert f"suggested lr {summary['suggested_lr']:.3g}" in result.stdout
    # said as the --lr that gives it: --lr is per 256 images, the sweep ran at batch 16
    assert summary["suggested_lr_option"] == pytest.approx(summary["suggested_lr"] * 256 / 16)
    assert f"--lr {summary['suggested_lr_option']:.3g} --lr-batch 256" in result.stdout
    assert (out / "lr-find.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a sweep far past what the network can take stops when the loss diverges
    far = runner.invoke(
        app, [*args, "--end-lr", "1e6", "--steps", "40", "--workers", "0", "--device", "cpu", "--out", str(out)]
    )
    assert far.exit_code == 0, far.output
    assert json.loads((out / "lr-find.json").read_text())["stopped_early"] is True
    # a sweep that starts past it: the loss only rises, said in a warning and in the summary
    past = runner.invoke(
        app,
        [
            *args,
            "--start-lr",
            "100",
            "--end-lr",
            "1e6",
            "--steps",
            "20",
            "--workers",
            "0",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
    )
    assert past.exit_code == 0, past.output
    caveat = json.loads((out / "lr-find.json").read_text())["caveat"]
    assert caveat.startswith("the loss was lowest at the start of the sweep") and f"warning: {caveat}" in past.stderr


def test_bad_lr_find_options(tmp_path):
    for args, expect in [
        (["--start-lr", "0"], "--start-lr 0"),
        (["--start-lr", "1", "--end-lr", "0.1"], "--start-lr 1.0: must be positive and below --end-lr"),
        (["--steps", "2"], "--steps 2: too few for a curve"),
        (["--data", "nowhere"], "--data nowhere"),
    ]:
        result = runner.invoke(app, ["lr-find", str(SMALL), "--device", "cpu", "--out", str(tmp_path), *args])
        assert result.exit_code == 2 and expect in result.stderr, (args, result.output)
