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

import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import quote, unquote

from inception_bench.errors import FieldError, one_line
from inception_bench.store import RunFolder

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


# --------------------------------------------------------------------------------------------------- sinks
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


def param_name(key: str) -> str:
    """A config key as an MLflow param name (letters, digits and ``_ - . space : /``): ``layers.*.5x5`` (an
    override of every layer) is ``layers.all.5x5``; any other character is ``_``."""
    return re.sub(r"[^\w\-. :/]", "_", key.replace("*", "all"))


class MLflow:
    """An MLflow run through its client, in ``MLFLOW_TRACKING_URI`` or a local sqlite store (module docstring). A
    resume continues the run where the store still has it; elsewhere it starts a new run and sends every epoch."""

    def __init__(self, folder: RunFolder, config: dict[str, Any], state: dict[str, Any], naming: Naming) -> None:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        for logger in ("mlflow", "alembic"):  # their INFO lines (creating the store's tables) are not the run's
            logging.getLogger(logger).setLevel(logging.WARNING)
        # a server that does not answer: a minute, not MLflow's default of minutes of retries, before giving up
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
        self.finished = False
        local = (naming.store or folder.path).resolve() / RunFolder.MLFLOW_STORE
        self.uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{quote(str(local))}"
        experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME") or naming.group or PROJECT
        with _sqlite_lock(self.uri):  # the runs of an ablation start at once: one of them makes the store's tables
            self.client = MlflowClient(self.uri)
            experiment_id = self._experiment(experiment)
        if state.get("run_id") and self._alive(str(state["run_id"])):  # the same run, resumed
            self.run_id, self.sent = str(state["run_id"]), int(state.get("epochs", 0))
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            tags = {"ibench.run_folder": str(folder.path.resolve())}
            self.run_id = self.client.create_run(experiment_id, run_name=naming.name, tags=tags).info.run_id
            self.sent = 0
            params = [Param(param_name(k), str(v)[:6000]) for k, v in flat_config(config).items()]
            try:
                for i in range(0, len(params), 100):  # MLflow takes at most 100 params a call
                    self.client.log_batch(self.run_id, params=params[i : i + 100])
            except Exception:
                with suppress(Exception):  # not left running in the store (if it still answers)
                    self.client.set_terminated(self.run_id, "FAILED")
                raise

    def _experiment(self, name: str) -> str:
        """The id of experiment ``name``, made if new (by whichever of the runs starting at once comes first)."""
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        try:
            return str(self.client.create_experiment(name))
        except MlflowException as e:
            if e.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            again = self.client.get_experiment_by_name(name)
            assert again is not None  # another run made it
            return str(again.experiment_id)

    def _alive(self, run_id: str) -> bool:
        """Whether this store holds run ``run_id``, not deleted; errors other than its absence are raised."""
        from mlflow.exceptions import MlflowException

        try:
            return bool(self.client.get_run(run_id).info.lifecycle_stage == "active")
        except MlflowException as e:
            if e.error_code == "RESOURCE_DOES_NOT_EXIST":  # a new store, another server, a run deleted for good
                return False
            raise

    def state(self) -> dict[str, Any]:
        return {"uri": self.uri, "run_id": self.run_id, "epochs": self.sent}

    def _log(self, values: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        metrics = [Metric(k, v, int(time.time() * 1000), step) for k, v in values.items()]
        try:
            self.client.log_batch(self.run_id, metrics=metrics)
        except Exception as e:  # a local store another run was writing to: once more, a second later
            if "locked" not in str(e):
                raise
            time.sleep(1.0)
            self.client.log_batch(self.run_id, metrics=metrics)

    def epoch(self, row: dict[str, Any]) -> None:
        self.sent = int(row["epoch"])
        self._log(numbers(row), self.sent)

    def finish(self, figures: Mapping[str, float], failed: bool) -> None:
        self._log(figures, self.sent)  # at the last epoch's step
        self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")
        self.finished = True

    def close(self, failed: bool) -> None:
        if not self.finished:  # a crash: FAILED; stopped to be resumed: KILLED
            self.client.set_terminated(self.run_id, "FAILED" if failed else "KILLED")


@contextmanager
def _sqlite_lock(uri: str) -> Iterator[None]:
    """An exclusive lock beside a sqlite store's file while its tables and experiment are made; nothing for other
    stores (a server makes its own)."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    path = Path(unquote(uri.removeprefix("sqlite:///")))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


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
    tuning run) to the trackers as a run of its own: every epoch, then its record's test figures."""
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
