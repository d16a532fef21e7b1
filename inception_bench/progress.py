"""Progress of a training run for a person watching: a rich progress bar within each epoch on a terminal, one
plain line per epoch otherwise (CI, log files), nothing when quiet. Reading the loss for the bar is the step
loop's only host-device synchronisation, every 25 steps and only on a terminal."""

from __future__ import annotations

import sys
from typing import Any

import torch


class Progress:
    def __init__(self, enabled: bool, epochs: int, start_epoch: int, steps_per_epoch: int) -> None:
        self.bar: Any = None
        self.enabled = enabled
        if enabled and sys.stderr.isatty():
            from rich import progress as rp

            self.bar = rp.Progress(
                rp.TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
                rp.BarColumn(),
                rp.TextColumn("loss {task.fields[loss]:.3f}  {task.fields[ips]:.0f} img/s"),
                rp.TimeRemainingColumn(),
            )
            total = (epochs - start_epoch) * steps_per_epoch
            self.task = self.bar.add_task("train", total=total, epoch=start_epoch + 1, epochs=epochs, loss=0.0, ips=0.0)
            self.bar.start()

    def step(self, epoch: int, loss: torch.Tensor, ips: float, advance: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=advance, epoch=epoch + 1, loss=loss.item(), ips=ips)

    def line(self, text: str) -> None:
        """An epoch's summary line, above the bar or on its own."""
        if self.bar is not None:
            self.bar.console.print(text, highlight=False)
        elif self.enabled:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
