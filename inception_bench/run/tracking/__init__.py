"""Experiment trackers: sinks for what a training run records, so that its curves appear where researchers already
watch (``--log tensorboard|wandb|mlflow``, repeatable). The run's own files stay the source: each epoch's row is
written to metrics.jsonl by :func:`inception_bench.run.train.evaluate_epoch`, and the same row, unchanged, goes to
every tracker (:class:`Trackers`); a tracker is a sink, never read back.

Conventions, common to all three:

- **Metrics**: every number of a metrics.jsonl row (``train_loss``, ``val_loss``, ``val_top1``, ``val_top5``,
  ``lr``, ``images_per_sec``, ``seconds``, ...), named by its key, at step = the epoch (1-based); at the end, the
  record's test figures (``test_top1``, ``test_top5``, ``test_loss``). Accuracies are fractions in 0..1.
- **Config**: the run's config.json (the recipe, the spec, versions and device) as the run's hparams / config /
  params (nested keys joined by ``.`` where the tracker is flat; lists and missing values as text).
- **Names**: a run of ``ibench ablate`` is named ``<variant>/seed-<seed>`` (tuning runs
  ``tune/<variant>/<candidate>``) and grouped by the ablation's name (W&B group, MLflow experiment); a run of
  ``ibench train`` is named by its folder, in W&B project / MLflow experiment ``inception-bench``.
- **Resumed runs**: metrics.jsonl is the source. Every epoch it holds reaches each tracker once: TensorBoard purges
  and replays; W&B and MLflow continue the same run (its id is kept in the run folder's trackers.json with the
  epochs it was sent) from the first epoch it lacks, so ``--log`` may be added on resuming. A run that starts
  from scratch starts new tracker runs, and so does a resume whose W&B mode or project, or whose MLflow store,
  no longer holds the earlier run (every epoch is sent to the new one). An ablation's first seed that is a copy
  of its chosen tuning run is sent as a run of its own (:func:`replay`).
- **Failures**: a tracker that cannot start is one error line before the first epoch; one that fails later
  (a server gone) is dropped with one warning line, and the run goes on (what it had is kept: a resume
  continues it). A run that ends on an error is marked failed in W&B and MLflow; an interrupted one (to be
  resumed) failed in W&B, KILLED in MLflow.

Where each writes:

- ``tensorboard``: event files in the run folder (``tensorboard --logdir RUN``; an ablation folder shows one
  TensorBoard run per (variant, seed)); values as TensorBoard stores them (float32); the config in the HParams
  tab (booleans as 0/1, as torch writes them) against ``val_top1``, ``val_loss`` and ``test_top1``.
- ``wandb``: the W&B client, offline unless ``WANDB_MODE`` says otherwise (``WANDB_MODE=online`` after
  ``wandb login``): ``RUN/wandb/offline-run-*`` folders, one per start of the run, uploaded in order by
  ``wandb sync RUN/wandb/offline-run-*``. Project ``WANDB_PROJECT`` or ``inception-bench``; test figures in the
  run's summary.
- ``mlflow``: the MLflow client, to ``MLFLOW_TRACKING_URI`` when set (a server, or a shared store), else a local
  sqlite store: ``mlflow.db`` in the ablation folder (all its runs) or in the run folder (``ibench train``); view
  it with ``mlflow ui --backend-store-uri sqlite:///PATH/mlflow.db`` (the full ``mlflow`` package). Experiment
  ``MLFLOW_EXPERIMENT_NAME`` when set; config keys as param names MLflow accepts (``layers.*.5x5`` ->
  ``layers.all.5x5``). Runs of an ablation on several machines: a tracking server, not a sqlite file on a shared
  file system.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any

from inception_bench.errors import FieldError, one_line
from inception_bench.run.tracking.common import TRACKERS, Naming, TrackerName
from inception_bench.run.tracking.mlflow_sink import MLflow
from inception_bench.run.tracking.tensorboard_sink import TensorBoard
from inception_bench.run.tracking.wandb_sink import WandB
from inception_bench.store import RunFolder

__all__ = ["TRACKERS", "MLflow", "Naming", "TensorBoard", "TrackerName", "Trackers", "WandB", "replay"]

SINKS: dict[str, Any] = {"tensorboard": TensorBoard, "wandb": WandB, "mlflow": MLflow}
# what each needs installed (MLflow's local store: SQLAlchemy and its migrations)
PACKAGES: dict[str, tuple[str, ...]] = {
    "tensorboard": ("tensorboard",),
    "wandb": ("wandb",),
    "mlflow": ("mlflow", "sqlalchemy", "alembic"),
}


# ------------------------------------------------------------------------------------------------ trackers
def _no_secrets(value: str) -> str:
    """A URI without its ``user:password@`` part (``https://user:token@host`` -> ``https://***@host``)."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]+@", r"\1***@", value)


def _settings(name: str) -> str:
    """The environment a tracker took its destination from, for the message of one that did not start."""
    variables = {"wandb": ("WANDB_MODE", "WANDB_PROJECT"), "mlflow": ("MLFLOW_TRACKING_URI",)}.get(name, ())
    said = [f"{v}={_no_secrets(os.environ[v])}" for v in variables if os.environ.get(v)]
    return f" (with {', '.join(said)}; unset it for the local default)" if said else ""


class Trackers:
    """The trackers a run logs to (none: every call does nothing)."""

    @staticmethod
    def check(names: Sequence[str]) -> None:
        """Refuse, before anything is written, a tracker that is unknown or not installed."""
        for name in names:
            if name not in TRACKERS:
                raise FieldError("log", f"unknown tracker; use one of {', '.join(TRACKERS)}", name)
            for package in PACKAGES[name]:
                try:
                    __import__(package)
                except ImportError:
                    why = f"needs the {package} package: pip install 'inception-bench[{name}]'"
                    raise FieldError("log", why, name) from None

    def __init__(
        self,
        names: Sequence[str],
        folder: RunFolder,
        config: dict[str, Any],
        history: list[dict[str, Any]],
        naming: Naming | None = None,
    ) -> None:
        """Trackers for the run in ``folder``, which has done the epochs of ``history`` (metrics.jsonl rows); each
        is sent the epochs it lacks. A run starting from scratch (no history) starts new tracker runs."""
        self.check(names)
        self.folder = folder
        naming = naming or Naming(folder.path.resolve().name)
        # what each tracker had of this run: kept for those not logged to now, or dropped on the way
        self.saved: dict[str, Any] = folder.read_trackers() if history and names else {}
        self.sinks: dict[str, Any] = {}
        for name in dict.fromkeys(names):
            try:
                if name == "tensorboard":
                    self.sinks[name] = TensorBoard(folder, config, not history, naming)
                else:
                    self.sinks[name] = SINKS[name](folder, config, dict(self.saved.get(name) or {}), naming)
            except Exception as e:  # a server refused, an offline store cannot be written, ...
                self.close(failed=True)
                self._save()
                raise FieldError("log", f"{name} did not start{_settings(name)}: {one_line(e, 200)}", name) from None
        for row in history:
            self.epoch(row, only_missing=True)
        self._save()

    def _save(self) -> None:
        live = {name: s for name, sink in self.sinks.items() if (s := sink.state()) is not None}
        self.saved.update(live)
        if self.saved:
            self.folder.write_trackers(self.saved)

    def _call(self, name: str, call: str, *args: Any) -> None:
        """``call`` on sink ``name``; a sink that fails is closed as failed and dropped with a warning (the run
        goes on; what it had is kept for a resume)."""
        try:
            getattr(self.sinks[name], call)(*args)
        except Exception as e:
            sink = self.sinks.pop(name)
            if (state := sink.state()) is not None:
                self.saved[name] = state
            if call != "close":
                with suppress(Exception):
                    sink.close(True)
            print(
                f"warning: --log {name} stopped ({one_line(e, 200)}); the run goes on without it (metrics.jsonl "
                "keeps every epoch)",
                file=sys.stderr,
                flush=True,
            )

    def epoch(self, row: dict[str, Any], only_missing: bool = False) -> None:
        """An epoch's metrics.jsonl row (``only_missing``: to the sinks that do not hold it yet)."""
        for name, sink in list(self.sinks.items()):
            if not (only_missing and int(row["epoch"]) <= sink.sent):
                self._call(name, "epoch", row)
        if not only_missing:
            self._save()

    def finish(self, figures: Mapping[str, float | None], failed: bool = False) -> None:
        """The final record's figures (test top-1, ...); ``failed``: the run diverged or failed."""
        values = {k: float(v) for k, v in figures.items() if v is not None}
        for name in list(self.sinks):
            self._call(name, "finish", values, failed)

    def close(self, failed: bool = False) -> None:
        """The end of this process's part of the run: ``failed`` when it ends on an error (not an interruption)."""
        for name in list(self.sinks):
            self._call(name, "close", failed)


def replay(names: Sequence[str], folder: RunFolder, naming: Naming) -> None:
    """Send a finished run whose files were copied from another (an ablation's first seed that is its chosen
    tuning run, or a run copied from another ablation's folder with ``--reuse``) to the trackers as a run of its own:
    every epoch, then its record's test figures."""
    if not names:
        return
    record = folder.read_record()
    trackers = Trackers(names, folder, folder.read_config(), folder.read_metrics(), naming)
    try:
        if record is not None:
            figures = {"test_top1": record.test_top1, "test_top5": record.test_top5, "test_loss": record.test_loss}
            trackers.finish(figures, failed=record.status != "completed")
    finally:
        trackers.close()
