"""The TensorBoard sink: event files in the run folder, the config in the HParams tab."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inception_bench.run.tracking.common import HPARAM_METRICS, Naming, flat_config, numbers
from inception_bench.store import RunFolder


class TensorBoard:
    """Event files in the run folder (module docstring). Earlier scalars are purged: every epoch is resent."""

    def __init__(self, folder: RunFolder, config: dict[str, Any], fresh: bool, naming: Naming) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        first = not any(folder.path.glob("events.out.tfevents.*"))
        self.writer = SummaryWriter(log_dir=str(folder.path), purge_step=None if first else 1)
        self.step = 0
        self.sent = 0  # epochs this tracker holds already: none (purged from step 1)
        if first or fresh:  # a new run (its config may differ from a start that died before epoch 1)
            metrics = {name: 0.0 for name in HPARAM_METRICS}  # their names; the values are the scalars logged
            file_writer = self.writer.file_writer  # this run's event file (add_hparams would write a new run)
            assert file_writer is not None  # opened by SummaryWriter()
            for summary in hparams(flat_config(config), metrics):
                file_writer.add_summary(summary)

    def state(self) -> dict[str, Any] | None:
        return None  # nothing to keep: the next open purges and replays

    def epoch(self, row: dict[str, Any]) -> None:
        self.step = int(row["epoch"])
        for key, value in numbers(row).items():
            self.writer.add_scalar(key, value, self.step)
        self.writer.flush()

    def finish(self, figures: Mapping[str, float], failed: bool) -> None:
        for key, value in figures.items():
            self.writer.add_scalar(key, value, self.step)
        self.writer.flush()

    def close(self, failed: bool) -> None:
        self.writer.close()
