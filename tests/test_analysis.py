"""The report's analyses on tiny cases whose answers are known by construction: the expected best accuracy after n
tuning candidates (against brute-force enumeration) and time to accuracy (against sums by hand)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from inception_bench.report.budget import budget_curves, expected_best
from inception_bench.report.tta import NEVER, olympic_mean, summary, time_to


@pytest.mark.parametrize("values", [[0.9, 0.7, 0.8], [0.5, 0.5, 0.95, 0.6], [0.3]])
def test_expected_best_is_the_mean_best_over_every_draw(values):
    for n in range(1, 5):
        draws = list(itertools.product(values, repeat=n))  # every ordered draw with replacement, equally likely
        assert expected_best(values, n) == pytest.approx(sum(max(d) for d in draws) / len(draws), rel=1e-12)
    assert expected_best(values, 1) == pytest.approx(np.mean(values))


def test_budget_curves_use_full_runs_or_the_first_rung():
    grid = pd.DataFrame(
        {
            "variant": ["a", "a", "a", "b", "b", "b"],
            "tune:lr": [0.1, 0.2, 0.4] * 2,
            "status": ["completed", "completed", "diverged", "completed", "failed", "completed"],
            "val_top1": [0.8, 0.9, float("nan"), 0.85, float("nan"), 0.86],
        }
    )
    basis, curves = budget_curves(grid)
    assert basis == "the candidates' full runs"
    # a: the diverged candidate counts as 0 (that value gave nothing); b: the crash is left out
    # best of n draws from {0, 0.8, 0.9}: 0.9 with probability 1 - (2/3)^n, 0.8 with (2/3)^n - (1/3)^n
    assert curves["a"] == pytest.approx([(0.8 + 0.9 + 0) / 3, 0.9 * 5 / 9 + 0.8 * 3 / 9, 0.9 * 19 / 27 + 0.8 * 7 / 27])
    assert curves["b"] == pytest.approx([0.855, 0.85 * 0.25 + 0.86 * 0.75])
    halved = grid.assign(rung=1, epochs=2)
    halved = pd.concat([halved, halved.iloc[[1]].assign(rung=2, epochs=4, val_top1=0.99)], ignore_index=True)
    basis, curves = budget_curves(halved)
    assert basis == "the first rung of successive halving (2 epochs)" and curves["a"][0] == pytest.approx(1.7 / 3)
    # while only the first rung has run, the table alone looks like a full grid: the ablation says it halves
    first_only = grid.assign(rung=1, epochs=2)
    assert budget_curves(first_only)[0] == "the candidates' full runs"
    assert budget_curves(first_only, halving=True)[0] == "the first rung of successive halving (2 epochs)"


def test_time_to_accuracy_sums_the_epochs_before_the_target():
    metrics = [
        {"epoch": 1, "val_top1": 0.50, "seconds": 10.0, "images_per_sec": 100.0},
        {"epoch": 2, "val_top1": 0.91, "seconds": 11.0, "images_per_sec": 90.0},
        {"epoch": 3, "val_top1": 0.89, "seconds": 12.0, "images_per_sec": 80.0},
        {"epoch": 4, "val_top1": 0.95, "seconds": 13.0, "images_per_sec": 70.0},
    ]
    got = time_to(metrics, 0.9)
    assert (got.epoch, got.images, got.seconds) == (2, 1000 + 990, 21.0)
    assert time_to(metrics, 0.95).seconds == 46.0 and not time_to(metrics, 0.96).reached
    # medians over seeds; a run that never got there is infinitely slow
    runs = [time_to(metrics, 0.9), time_to(metrics, 0.95), NEVER]
    row = summary(runs)
    assert row["tta_reached"] == 2 and row["tta_epochs"] == 4 and row["tta_seconds"] == 46.0
    assert row["tta_seconds_olympic"] is None  # fewer than 5 runs
    assert math.isinf(summary([NEVER, NEVER, runs[0]])["tta_seconds"])


def test_olympic_mean_drops_the_fastest_and_the_slowest():
    assert olympic_mean([5.0, 1.0, 3.0, 2.0, 40.0]) == pytest.approx((2 + 3 + 5) / 3)
    assert olympic_mean([1.0, 2.0, 3.0, 4.0]) is None
    assert math.isinf(olympic_mean([1.0, 2.0, 3.0, math.inf, math.inf]))  # one of the middle never reached it
