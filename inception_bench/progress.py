"""Progress for a person watching: a rich progress bar within each epoch of a training run on a terminal, one
plain line per epoch otherwise (CI, log files), nothing when quiet. Reading the loss for the bar is the step
loop's only host-device synchronisation, every 25 steps and only on a terminal. :func:`step_progress` is the bar
of a loop that is not training (evaluation, the learning-rate range test): steps, images/s and the time left on a
terminal, nothing elsewhere (a log file gets no line per step)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def step_progress(label: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A bar of ``total`` steps labelled ``label`` on a terminal (stderr); the block calls ``advance(images)`` after
    each step. Not a terminal, or not ``enabled``: ``advance`` does nothing."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda images: None
        return
    from rich import progress as rp

    bar = rp.Progress(
        rp.TextColumn(label),
        rp.BarColumn(),
        rp.MofNCompleteColumn(),
        rp.TextColumn("{task.fields[ips]:.0f} img/s"),
        rp.TimeRemainingColumn(),
        console=rp.Console(stderr=True),
        transient=True,
    )
    task = bar.add_task(label, total=total, ips=0.0)
    started, seen = time.perf_counter(), 0

    def advance(images: int) -> None:
        nonlocal seen
        seen += images
        bar.update(task, advance=1, ips=seen / max(time.perf_counter() - started, 1e-9))

    with bar:
        yield advance
