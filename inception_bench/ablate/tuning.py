"""Tuning an ablation's variants: the candidates of ``tune:``, successive halving over them (``halving:``), and the
choice.

Without ``halving:`` every candidate trains the full run (one *rung* at the run's epochs) and the best validation
top-1 is chosen. With it (Jamieson & Talwalkar 2016; Li et al. 2020's ASHA, run rung by rung)::

    tune: {lr: [0.15, 0.3, 0.6, 1.2]}
    halving: {rungs: [0.25, 0.5, 1.0], keep: 0.5}

every candidate first trains ``rungs[0]`` of the run's epochs, as a complete schedule of that length (its warm-up,
cosine and weight average follow the shorter run, so a low rate is not judged on a truncated cosine); the best
``keep`` share of them by validation top-1 (at least one; candidates that diverged, did not learn or failed drop
out) trains ``rungs[1]`` of the epochs, and so on; the best of the last rung is chosen. A rung of 1.0 is the full
run: when one candidate reaches it, that run is also the variant's first seed (copied, not trained twice).

Cost, in full runs, for 4 candidates, the survivor's full run (the first seed's, in both) included: the grid trains
4; ``rungs [0.25, 0.5, 1.0], keep 0.5`` trains 4 x 0.25 + 2 x 0.5 + 1 = 3 (beyond the first seed: 2 against 3);
``rungs [0.25, 1.0], keep 0.25`` (one short rung, then the best alone) 4 x 0.25 + 1 = 2, half the grid (beyond the
first seed: 1 against 3), trusting a ranking after a quarter of the schedule.

Each rung's runs live in ``tune/<variant>/<candidate>`` (a full-length rung) or
``tune/<variant>/<candidate>_epochs-<n>`` (a shorter one); ``tuning.csv`` has one row per run with its rung.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inception_bench.ablate.runs import PlannedRun
from inception_bench.store import RunStatus


class Halving(BaseModel):
    """``halving:`` of an ablation file: the rungs (shares of the run's epochs, increasing, at most 1) and the share
    of candidates each rung keeps."""

    model_config = ConfigDict(extra="forbid")
    rungs: list[float] = Field(min_length=1)
    keep: float = Field(0.5, gt=0, lt=1)

    @field_validator("rungs")
    @classmethod
    def _increasing_shares(cls, rungs: list[float]) -> list[float]:
        if any(not 0 < r <= 1 for r in rungs):
            raise ValueError("each is a share of the epochs, above 0 and at most 1 (e.g. [0.25, 0.5, 1.0])")
        if any(b <= a for a, b in itertools.pairwise(rungs)):
            raise ValueError("must increase (e.g. [0.25, 0.5, 1.0])")
        return rungs

    def rung_epochs(self, epochs: int) -> list[int]:
        """Each rung's epochs for a run of ``epochs`` (rounded half up, at least 1); ValueError when two rungs round
        to the same number of epochs."""
        counts = [max(1, math.floor(share * epochs + 0.5)) for share in self.rungs]
        for (a, n), (b, m) in itertools.pairwise(zip(self.rungs, counts, strict=True)):
            if m <= n:
                raise ValueError(
                    f"halving.rungs: {a} and {b} of {epochs} epochs are both {n} epoch(s); use rungs further apart"
                )
        return counts

    def kept(self, alive: int) -> int:
        """How many of ``alive`` candidates go on to the next rung."""
        return max(1, math.ceil(self.keep * alive))


def candidates(tune: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the ``tune:`` values, in the file's order."""
    keys = list(tune)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(tune[k] for k in keys))]


def ranked(runs: list[PlannedRun]) -> list[PlannedRun]:
    """The completed runs with a validation top-1, best first (the first listed among equals)."""
    scored = []
    for i, run in enumerate(runs):
        record = run.folder.read_record() if run.status == RunStatus.completed else None
        if record is not None and record.val_top1 is not None:
            scored.append((-record.val_top1, i, run))
    return [run for _, _, run in sorted(scored, key=lambda s: (s[0], s[1]))]


@dataclass
class Tuning:
    """One variant's tuning: its rungs of candidate runs (``tuned`` holds each run's values; a grid without halving
    has one rung), whether every rung is planned, and the choice once the last rung has finished (None before; also
    None when no candidate of a rung completed)."""

    variant: str
    rungs: list[list[PlannedRun]] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)  # each rung's epochs
    planned_all: bool = False  # every rung's runs are known (the earlier rungs have finished)
    chosen: dict[str, Any] | None = None

    @property
    def runs(self) -> list[PlannedRun]:
        return [r for rung in self.rungs for r in rung]

    @property
    def finished(self) -> bool:
        return self.planned_all and all(r.status.finished for r in self.runs)

    def choose(self) -> None:
        """The best candidate of the last rung, once every rung has finished."""
        best = ranked(self.rungs[-1]) if self.finished and self.rungs else []
        self.chosen = best[0].tuned if best else None

    def rows(self) -> list[dict[str, Any]]:
        """tuning.csv rows: variant, the candidate's values, its rung and epochs, status, validation figures,
        whether it went on to the next rung (``kept``) and whether it was chosen."""
        rows = []
        for k, rung in enumerate(self.rungs):
            later = {str(r.tuned) for r in self.rungs[k + 1]} if k + 1 < len(self.rungs) else set()
            for run in rung:
                record = run.folder.read_record() if run.status.finished else None
                last = k == len(self.rungs) - 1
                rows.append(
                    {
                        "variant": self.variant,
                        **{f"tune:{key}": v for key, v in run.tuned.items()},
                        "rung": k + 1,
                        "epochs": self.epochs[k],
                        "status": str(run.status),
                        "val_top1": record.val_top1 if record is not None else None,
                        "val_top5": record.val_top5 if record is not None else None,
                        "kept": str(run.tuned) in later,
                        "chosen": last and self.chosen is not None and run.tuned == self.chosen,
                        "run_dir": str(run.folder.path),
                    }
                )
        return rows
