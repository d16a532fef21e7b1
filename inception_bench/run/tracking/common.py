"""What every tracker shares: the tracker names, how runs are named, the config flattened and a row's numbers.
Conventions: :mod:`inception_bench.run.tracking`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

TrackerName = Literal["tensorboard", "wandb", "mlflow"]  # the values of Recipe.log
TRACKERS: tuple[str, ...] = get_args(TrackerName)
HPARAM_METRICS = ("val_top1", "val_loss", "test_top1")
PROJECT = "inception-bench"  # W&B project and MLflow experiment of runs outside an ablation


def flat_config(config: dict[str, Any], prefix: str = "") -> dict[str, bool | int | float | str]:
    """``config`` as one level of hparams: nested keys joined by ``.``; numbers, booleans and text kept, the rest
    (lists, None) as text."""
    flat: dict[str, bool | int | float | str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_config(value, f"{name}."))
        elif isinstance(value, bool | int | float | str):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat


def numbers(row: Mapping[str, Any]) -> dict[str, float]:
    """The metrics of a metrics.jsonl row: its numbers but the epoch (the step)."""
    return {
        k: float(v) for k, v in row.items() if k != "epoch" and isinstance(v, int | float) and not isinstance(v, bool)
    }


@dataclass(frozen=True)
class Naming:
    """How the trackers name and group a run (module docstring): its name, its group (the ablation's name; None
    outside an ablation) and the folder of a local MLflow store."""

    name: str
    group: str | None = None
    store: Path | None = None  # default: the run folder

    @classmethod
    def from_request(cls, request: Mapping[str, Any], folder: Path) -> Naming:
        """An ablation run's naming, as its request (``tracking``) states it; the folder's name for older ones."""
        tracking = request.get("tracking") or {}
        store = tracking.get("store")
        return cls(str(tracking.get("name") or folder.name), request.get("ablation"), Path(store) if store else None)
