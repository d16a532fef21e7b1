"""A run's status and record (``final.json``), the results.csv row made from it, and ``ibench eval``'s records.
Accuracies are fractions in 0..1, times in seconds."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from inception_bench.errors import IbenchError
from inception_bench.store.io import read_json


# -------------------------------------------------------------------------------------------------- records
class RunStatus(StrEnum):
    """Where a run stands. A record (``final.json``) says ``completed``, ``diverged``, ``not-learning`` (its
    training loss still at chance: :mod:`inception_bench.run.guard`) or ``failed``; an ablation's
    plan adds ``new`` (nothing on disk), ``partial`` (a checkpoint, no record: it resumes), ``changed`` (its
    recorded request differs from the ablation file) and ``waiting`` (its recipe waits on tuning runs);
    ``interrupted`` is a run stopped early on purpose (tests); ``incomplete-record`` a completed record without its
    metrics (reports)."""

    new = "new"
    partial = "partial"
    completed = "completed"
    diverged = "diverged"
    not_learning = "not-learning"
    failed = "failed"
    changed = "changed"
    waiting = "waiting"
    interrupted = "interrupted"
    incomplete_record = "incomplete-record"

    @property
    def finished(self) -> bool:
        """A status a record ends with: the run is not resumed unless asked to retry."""
        return self in (RunStatus.completed, *RunStatus.unsuccessful())

    @classmethod
    def unsuccessful(cls) -> tuple[RunStatus, ...]:
        """The records of runs that ended without a result: retried only when asked (``--retry-failed``)."""
        return (cls.failed, cls.diverged, cls.not_learning)

    @property
    def judges_value(self) -> bool:
        """A run that ended by itself, on what it was given: a tuning candidate that diverged or did not learn is an
        answer (that value does not train), not a failure to retry."""
        return self in (RunStatus.diverged, RunStatus.not_learning)


class RunRecord(BaseModel):
    """A run's outcome: ``final.json``. ``val_*`` are the headline weights' on the validation split (``weights``:
    ``ema``, the weight average, unless the raw weights are better there: ``raw``; ``val_top1_raw`` and
    ``val_top1_ema`` both), ``test_*`` the headline weights' on the held-out test split (None when the data set has
    none or the run did not complete); params/ops/params_all in Table 1's conventions (:mod:`inception_bench.count`);
    ``exit_code`` is set when the ablation driver writes the record of a worker that died."""

    model_config = ConfigDict(extra="ignore")

    status: RunStatus
    message: str = ""
    val_top1: float | None = None
    val_top5: float | None = None
    val_top1_raw: float | None = None
    val_top1_ema: float | None = None
    weights: str | None = None
    test_top1: float | None = None
    test_top5: float | None = None
    test_loss: float | None = None
    params: int | None = None
    ops: int | None = None
    params_all: int | None = None
    epochs: int = 0
    train_images_per_sec: float | None = None
    wall_seconds: float | None = None
    device: str | None = None
    data: str | None = None
    exit_code: int | None = None


_REDO = "delete it to redo that run"

# The columns of results.csv: who, how it ended, and the record's figures people compare.
RECORD_COLUMNS = [
    "val_top1",
    "val_top5",
    "test_top1",
    "test_top5",
    "weights",
    "params",
    "ops",
    "train_images_per_sec",
    "wall_seconds",
    "epochs",
]
RESULT_COLUMNS = ["variant", "seed", "status", *RECORD_COLUMNS, "error"]


def result_row(variant: str, seed: int | str, status: RunStatus, record: RunRecord | None) -> dict[str, Any]:
    """One results.csv row: the run's identity and status, and its record's figures when it has one."""
    row: dict[str, Any] = {"variant": variant, "seed": seed, "status": str(status)}
    if record is not None:
        row.update(record.model_dump(include=set(RECORD_COLUMNS)))
        row["error"] = record.message or None
    return row


# -------------------------------------------------------------------------------------------- eval records
class Split(StrEnum):
    """The data split an evaluation scores: val (what runs are compared and tuned on) or test (held out)."""

    val = "val"
    test = "test"


def eval_record_path(crops: int, folder: Path = Path("."), split: str = Split.val) -> Path:
    """Where ``ibench eval`` writes its record by default: ``eval-<crops>crop.json`` (the validation split),
    ``eval-test-<crops>crop.json`` (the test split)."""
    return folder / (f"eval-{crops}crop.json" if split == "val" else f"eval-{split}-{crops}crop.json")


def find_eval_records(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every readable ``ibench eval`` record under ``folder``, with its path (unreadable ones are skipped)."""
    records = []
    for path in sorted(folder.rglob("eval-*.json")):
        try:
            records.append((path, read_json(path)))
        except IbenchError:
            continue
    return records
