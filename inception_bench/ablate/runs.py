"""A planned run: one (variant, seed) of an ablation, or one candidate of its tuning, with its folder, status and
results.csv row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inception_bench.spec import Spec
from inception_bench.store import RunFolder, RunStatus, result_row


def axis_value(value: Any) -> Any:
    """An axis value as results.csv holds it: a list joined with +."""
    return "+".join(map(str, value)) if isinstance(value, list) else value


@dataclass
class PlannedRun:
    variant: str
    seed: int
    overrides: dict[str, Any]
    recipe: dict[str, Any]
    axes: dict[str, Any]
    folder: RunFolder
    status: RunStatus = RunStatus.new
    request: dict[str, Any] = field(default_factory=dict)
    spec: Spec | None = None
    tuned: dict[str, Any] = field(default_factory=dict)  # the tuned recipe values this run uses
    note: str = ""  # why a run cannot start (its tuning)

    def row(self) -> dict[str, Any]:
        """The run's results.csv row (figures from its record once it has finished)."""
        record = self.folder.read_record() if self.status.finished and not self.note else None
        row = result_row(self.variant, self.seed, self.status, record)
        row.update({f"axis:{k}" if k in row else k: axis_value(v) for k, v in self.axes.items()})
        row.update({f"tuned:{k}": v for k, v in self.tuned.items()})
        if attempts := self.folder.read_attempts():  # the Ray backend's: workers that started the run
            row["attempts"] = len(attempts)
        if self.note:
            row["error"] = self.note
        row["run_dir"] = str(self.folder.path)
        return row
