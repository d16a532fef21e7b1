"""The MLflow sink: ``MLFLOW_TRACKING_URI``, else a local sqlite store; a resumed run continues."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from inception_bench.run.tracking.common import PROJECT, Naming, flat_config, numbers
from inception_bench.store import RunFolder


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
