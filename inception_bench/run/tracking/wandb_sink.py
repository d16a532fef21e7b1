"""The W&B sink: offline in the run folder unless ``WANDB_MODE`` says otherwise; a resumed run continues."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import Any

from inception_bench.run.tracking.common import PROJECT, Naming, numbers
from inception_bench.store import RunFolder


class WandB:
    """A W&B run through its client, offline unless ``WANDB_MODE`` says otherwise (module docstring). A resume
    continues the run of the same id where the mode and project are the same as before; elsewhere it starts a
    new run (the earlier one's epochs are not where the new one goes)."""

    def __init__(self, folder: RunFolder, config: dict[str, Any], state: dict[str, Any], naming: Naming) -> None:
        import wandb

        self.finished = False
        self.where = {"mode": os.environ.get("WANDB_MODE") or "offline", "project": os.environ.get("WANDB_PROJECT")}
        same = state.get("id") and all(state.get(k) == v for k, v in self.where.items())
        self.id = str(state["id"]) if same else uuid.uuid4().hex[:12]  # W&B ids: lower-case letters and digits
        self.sent = int(state.get("epochs", 0)) if same else 0
        settings = wandb.Settings(console="off", silent=True, x_disable_stats=True, save_code=False, disable_git=True)
        self.run = wandb.init(
            project=self.where["project"] or PROJECT,
            group=naming.group,
            name=naming.name,
            id=self.id,
            resume="allow",
            dir=str(folder.path),
            config=config,
            mode=self.where["mode"],  # type: ignore[arg-type]  # W&B checks it
            settings=settings,
            reinit="create_new",
        )

    def state(self) -> dict[str, Any]:
        return {"id": self.id, "epochs": self.sent, **self.where}

    def epoch(self, row: dict[str, Any]) -> None:
        self.run.log(numbers(row), step=int(row["epoch"]))
        self.sent = int(row["epoch"])

    def finish(self, figures: Mapping[str, float], failed: bool) -> None:
        self.run.summary.update(dict(figures))
        self.run.finish(exit_code=1 if failed else 0)
        self.finished = True

    def close(self, failed: bool) -> None:
        if not self.finished:  # stopped before its end (to be resumed, or crashed): failed till a resume
            self.run.finish(exit_code=1)
