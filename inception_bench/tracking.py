"""Experiment trackers: sinks for what a training run records, so that its curves appear where researchers already
watch (``--log tensorboard``). The run's own files stay the source: each epoch's row is written to metrics.jsonl
by :func:`inception_bench.train.evaluate_epoch`, and the same row, unchanged, goes to every tracker.

Conventions (TensorBoard, the one tracker today):

- **Where**: event files in the run folder (``tensorboard --logdir RUN``); under ``ibench ablate``, each run
  folder is one TensorBoard run, so ``tensorboard --logdir DIR`` shows one run per (variant, seed).
- **Scalars**: every number of a metrics.jsonl row (``train_loss``, ``val_loss``, ``val_top1``, ``val_top5``,
  ``lr``, ``images_per_sec``, ``seconds``, ...), tagged by its key, at step = the epoch (1-based), values as
  TensorBoard stores them (float32); at the end, the record's test figures (``test_top1``, ``test_top5``,
  ``test_loss``) at the last epoch's step.
- **Hparams**: the run's config.json (the recipe, the spec, versions and device; nested keys joined by ``.``;
  lists and missing values as text; booleans as 0/1, as torch writes them) in the HParams tab, against
  ``val_top1``, ``val_loss`` and ``test_top1``.
- **Resumed runs**: metrics.jsonl is the source. Each time a run opens its trackers, the scalars of earlier
  event files are purged (``purge_step=1``, as TensorBoard reads it) and the epochs metrics.jsonl holds are
  replayed: no epoch twice, none missing, ``--log`` may be added on resuming. The hparams are written when the
  folder has no event file yet or the run starts from scratch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from inception_bench.errors import FieldError

TrackerName = Literal["tensorboard"]  # the values of Recipe.log
TRACKERS: tuple[str, ...] = get_args(TrackerName)
HPARAM_METRICS = ("val_top1", "val_loss", "test_top1")


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


class TensorBoard:
    """Event files in the run folder (see the module docstring)."""

    @staticmethod
    def check() -> None:
        """One error line when the tensorboard package is missing."""
        try:
            import tensorboard  # noqa: F401  (torch.utils.tensorboard writes through it)
        except ImportError:
            why = "needs the tensorboard package: pip install 'inception-bench[tensorboard]'"
            raise FieldError("log", why, "tensorboard") from None

    def __init__(self, folder: Path, config: dict[str, Any], history: list[dict[str, Any]]) -> None:
        self.check()
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        first = not any(folder.glob("events.out.tfevents.*"))
        self.writer = SummaryWriter(log_dir=str(folder), purge_step=None if first else 1)
        self.step = len(history)
        if first or not history:  # a new run (its config may differ from a start that died before epoch 1)
            metrics = {name: 0.0 for name in HPARAM_METRICS}  # their names; the values are the scalars logged
            file_writer = self.writer.file_writer  # this run's event file (add_hparams would write a new run)
            assert file_writer is not None  # opened by SummaryWriter()
            for summary in hparams(flat_config(config), metrics):
                file_writer.add_summary(summary)
        for row in history:  # what metrics.jsonl holds, whatever earlier event files hold (purged from step 1)
            self.epoch(row)

    def epoch(self, row: dict[str, Any]) -> None:
        self.step = int(row["epoch"])
        for key, value in row.items():
            if key != "epoch" and isinstance(value, int | float) and not isinstance(value, bool):
                self.writer.add_scalar(key, value, self.step)
        self.writer.flush()

    def finish(self, figures: Mapping[str, float | None]) -> None:
        for key, value in figures.items():
            if value is not None:
                self.writer.add_scalar(key, value, self.step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class Trackers:
    """The trackers a run logs to (none: every call does nothing)."""

    @staticmethod
    def check(names: Sequence[str]) -> None:
        """Refuse, before anything is written, a tracker that is unknown or not installed."""
        unknown = [n for n in names if n not in TRACKERS]
        if unknown:
            raise FieldError("log", f"unknown tracker; use one of {', '.join(TRACKERS)}", unknown[0])
        if "tensorboard" in names:
            TensorBoard.check()

    def __init__(
        self, names: Sequence[str], folder: Path, config: dict[str, Any], history: list[dict[str, Any]]
    ) -> None:
        """Trackers for the run in ``folder``, which has done the epochs of ``history`` (metrics.jsonl rows)."""
        self.check(names)
        self.sinks = [TensorBoard(folder, config, history) for name in dict.fromkeys(names) if name == "tensorboard"]

    def epoch(self, row: dict[str, Any]) -> None:
        """An epoch's metrics.jsonl row."""
        for sink in self.sinks:
            sink.epoch(row)

    def finish(self, figures: Mapping[str, float | None]) -> None:
        """The final record's figures (test top-1, ...)."""
        for sink in self.sinks:
            sink.finish(figures)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
