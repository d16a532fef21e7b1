"""Progress for a person watching, on stderr (stdout stays the command's output), in one of three modes
(:class:`ProgressMode`, the commands' ``--progress``; ``--quiet`` is ``none``):

- ``auto`` (default): a live rich bar on a terminal; plain lines elsewhere (CI, log files).
- ``plain``: plain lines only: a line per epoch (training) and, within a long loop, a line at most every
  :data:`HEARTBEAT_SECONDS` (steps done, images/s, time left), never a line per step.
- ``none``: nothing; errors and the command's result only.

:class:`Progress` is a training run's (a bar within each epoch: epoch, loss, images/s, time left; reading the loss
is the step loop's only host-device synchronisation, every :attr:`Progress.every` steps, only when shown).
:func:`step_progress` is the bar of a loop that is not training (evaluation, the learning-rate range test, a
benchmark's rounds).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

HEARTBEAT_SECONDS = 60.0  # plain mode: a line within a long loop at most this often


class ProgressMode(StrEnum):
    auto = "auto"
    plain = "plain"
    none = "none"


def live(mode: str) -> bool:
    """Whether ``mode`` draws a live bar here (``auto`` on a terminal)."""
    return mode == ProgressMode.auto and sys.stderr.isatty()


def plain_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _left(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


class Progress:
    """A training run's progress: ``epochs`` epochs of ``steps_per_epoch`` steps, from ``start_epoch``. The step
    loop offers a reading every :attr:`every` steps (at most 25, at least ten times an epoch, so that a short
    epoch's bar moves) and at an epoch's end. The bar goes when the run ends; the epochs' lines stay."""

    def __init__(self, mode: str, epochs: int, start_epoch: int, steps_per_epoch: int) -> None:
        self.bar: Any = None
        self.plain = mode != ProgressMode.none and not live(mode)
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self.every = min(25, max(1, steps_per_epoch // 10))
        self.last = time.monotonic()
        if live(mode):
            from rich import progress as rp

            self.bar = rp.Progress(
                rp.TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
                rp.BarColumn(),
                rp.TextColumn("{task.fields[figures]}"),
                rp.TimeRemainingColumn(),
                console=rp.Console(stderr=True),
                transient=True,
            )
            total = (epochs - start_epoch) * steps_per_epoch
            first = "loss -  - img/s"  # nothing read yet
            self.task = self.bar.add_task("train", total=total, epoch=start_epoch + 1, epochs=epochs, figures=first)
            self.bar.start()

    def due(self, steps: int) -> bool:
        """Whether the step loop, ``steps`` steps into an epoch, should call :meth:`step` now."""
        return (steps % self.every == 0 or steps == self.steps_per_epoch) and self.wanted

    @property
    def wanted(self) -> bool:
        """Whether :meth:`step` shows anything (a bar, or a plain line once a heartbeat is due)."""
        return self.bar is not None or (self.plain and time.monotonic() - self.last >= HEARTBEAT_SECONDS)

    def step(self, epoch: int, loss: torch.Tensor, steps: int, advance: int, seen: int, seconds: float) -> None:
        """``steps`` steps of ``epoch`` (0-based) are done, ``advance`` of them since the last call: ``seen`` images
        in ``seconds``. Called only when :attr:`wanted` (which spares reading the loss otherwise)."""
        ips = seen / max(seconds, 1e-9)
        if self.bar is not None:
            figures = f"loss {loss.item():.3f}  {ips:.0f} img/s"
            self.bar.update(self.task, advance=advance, epoch=epoch + 1, figures=figures)
        elif self.plain and steps < self.steps_per_epoch:  # a heartbeat (the caller asked :attr:`wanted`)
            left = seconds / steps * (self.steps_per_epoch - steps)
            self.line(
                f"epoch {epoch + 1}/{self.epochs}: step {steps}/{self.steps_per_epoch}, loss {loss.item():.4f}, "
                f"{ips:.0f} img/s, about {_left(left)} left in the epoch"
            )

    def line(self, text: str) -> None:
        """An epoch's summary line, above the bar or on its own."""
        self.last = time.monotonic()
        if self.bar is not None:
            self.bar.console.print(text, highlight=False)
        elif self.plain:
            plain_line(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@contextmanager
def step_progress(label: str, total: int, mode: str = ProgressMode.auto) -> Iterator[Callable[[int], None]]:
    """Progress of a loop of ``total`` steps labelled ``label``; the block calls ``advance(images)`` after each
    step (``images``: 0 when steps are not images). A bar on a terminal (``auto``); a heartbeat line at most every
    :data:`HEARTBEAT_SECONDS` in plain mode; nothing with ``none``."""
    started, done, seen = time.perf_counter(), 0, 0

    def rate() -> str:
        """Images per second so far, or "" for steps that are not images."""
        return f"{seen / max(time.perf_counter() - started, 1e-9):.0f} img/s" if seen else ""

    if not live(mode):
        last = time.monotonic()

        def heartbeat(images: int) -> None:
            nonlocal done, seen, last
            done, seen = done + 1, seen + images
            if mode == ProgressMode.none or time.monotonic() - last < HEARTBEAT_SECONDS or done == total:
                return
            last = time.monotonic()
            left = (time.perf_counter() - started) / done * (total - done)
            plain_line(f"{label}: {done}/{total}{', ' + rate() if seen else ''}, about {_left(left)} left")

        yield heartbeat
        return
    from rich import progress as rp

    bar = rp.Progress(
        rp.TextColumn(label),
        rp.BarColumn(),
        rp.MofNCompleteColumn(),
        rp.TextColumn("{task.fields[rate]}"),
        rp.TimeRemainingColumn(),
        console=rp.Console(stderr=True),
        transient=True,
    )
    task = bar.add_task(label, total=total, rate="")

    def advance(images: int) -> None:
        nonlocal seen
        seen += images
        bar.update(task, advance=1, rate=rate())

    with bar:
        yield advance
