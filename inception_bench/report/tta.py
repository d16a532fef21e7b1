"""Time to accuracy (as MLPerf Training scores a run): the epoch, the training images seen and the training seconds
after which a run's validation top-1 (the headline weights' of its ``metrics.jsonl``) first reaches a target.

Conventions: the target is a validation top-1 *fraction*; by default the study's baseline's median final validation
top-1 minus one point (0.01). Seconds are the training steps' own (``metrics.jsonl``'s ``seconds``: evaluation,
checkpointing and compilation left out); images are the training images seen (``images_per_sec x seconds`` summed
over the epochs). A run that never reaches the target counts as not reached (infinitely slow): the median over seeds
is then "not reached" once half of them have not. Over 5 or more seeds, MLPerf's mean is also given: the fastest and
the slowest run dropped, the mean of the rest (not reached when one of the rest has not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from inception_bench.errors import IbenchError
from inception_bench.report.load import Study, run_folder


@dataclass(frozen=True)
class Reached:
    """Where a run first reached the target: epoch (1-based), training images seen and training seconds by then;
    all ``inf`` when it never did."""

    epoch: float
    images: float
    seconds: float

    @property
    def reached(self) -> bool:
        return math.isfinite(self.epoch)


NEVER = Reached(math.inf, math.inf, math.inf)


def time_to(metrics: list[dict[str, Any]], target: float) -> Reached:
    """The first epoch of ``metrics`` (one row per epoch) whose ``val_top1`` is at least ``target``."""
    images = seconds = 0.0
    for row in metrics:
        seconds += float(row.get("seconds") or 0.0)
        images += float(row.get("images_per_sec") or 0.0) * float(row.get("seconds") or 0.0)
        top1 = row.get("val_top1")
        if isinstance(top1, int | float) and top1 >= target:
            return Reached(float(row["epoch"]), images, seconds)
    return NEVER


def olympic_mean(values: list[float]) -> float | None:
    """MLPerf's mean over 5 or more runs: the fastest and the slowest dropped (None with fewer than 5)."""
    if len(values) < 5:
        return None
    return float(np.mean(sorted(values)[1:-1]))


def default_target(study: Study) -> float | None:
    """The baseline's median final validation top-1 minus one point (None when the baseline has no completed run)."""
    done = study.completed()
    baseline = study.meta.get("baseline") or (str(done["variant"].iloc[0]) if not done.empty else None)
    finals = done[done["variant"] == baseline]["val_top1"].dropna()
    return float(np.median(finals)) - 0.01 if len(finals) else None


def reached_by_variant(study: Study, target: float) -> dict[str, list[Reached]]:
    """Each completed run's :func:`time_to` the target, by variant (runs without readable metrics are left out)."""
    out: dict[str, list[Reached]] = {}
    for row in study.completed().itertuples():
        try:
            metrics = run_folder(study, row).read_metrics()
        except IbenchError:
            continue
        if metrics:
            out.setdefault(str(row.variant), []).append(time_to(metrics, target))
    return out


def summary(runs: list[Reached]) -> dict[str, Any]:
    """Median over seeds of epochs, images and seconds to the target, MLPerf's olympic mean of the seconds (5+
    seeds), and how many runs reached it."""
    return {
        "tta_reached": sum(r.reached for r in runs),
        "tta_runs": len(runs),
        "tta_epochs": float(np.median([r.epoch for r in runs])),
        "tta_images": float(np.median([r.images for r in runs])),
        "tta_seconds": float(np.median([r.seconds for r in runs])),
        "tta_seconds_olympic": olympic_mean([r.seconds for r in runs]),
    }
