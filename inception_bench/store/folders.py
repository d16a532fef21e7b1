"""The folders results live in: a run folder (``ibench train --out``), an ablation folder (``ibench ablate
--out``), a report folder and an lr-find folder; their file names and layouts are stated here only."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from inception_bench.errors import IbenchError
from inception_bench.store.io import atomic_write_bytes, atomic_write_text, read_csv, read_json, write_json
from inception_bench.store.records import RESULT_COLUMNS, RunRecord

if TYPE_CHECKING:
    import pandas as pd

_REDO = "delete it to redo that run"


@dataclass(frozen=True)
class RunFolder:
    """One training run's folder (see the module docstring). Reads raise :class:`IbenchError` naming the file."""

    path: Path
    CONFIG = "config.json"
    METRICS = "metrics.jsonl"
    CHECKPOINT = "checkpoint.pt"
    RECORD = "final.json"
    REQUEST = "request.json"
    LOG = "worker.log"
    ATTEMPTS = "attempts.jsonl"
    TRACKERS = "trackers.json"
    MLFLOW_STORE = "mlflow.db"  # a local MLflow store (sqlite), here or in the ablation folder
    ORIGIN = "copied-from.json"  # where a run copied from another ablation's folder came from (``--reuse``)
    FILES = (CONFIG, METRICS, CHECKPOINT, RECORD, REQUEST, LOG, ATTEMPTS, TRACKERS, MLFLOW_STORE, ORIGIN)

    @classmethod
    def owns(cls, name: str) -> bool:
        """Whether a file of this name in a run folder is the run's own (its records, evaluations, event files)."""
        return name in cls.FILES or name.startswith(("eval-", "events.out.tfevents"))

    @property
    def config_path(self) -> Path:
        return self.path / self.CONFIG

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS

    @property
    def checkpoint_path(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def record_path(self) -> Path:
        return self.path / self.RECORD

    @property
    def request_path(self) -> Path:
        return self.path / self.REQUEST

    @property
    def log_path(self) -> Path:
        return self.path / self.LOG

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.exists()

    def has_record(self) -> bool:
        return self.record_path.exists()

    def check_location(self) -> None:
        """One error naming the path if a run folder cannot be made there (it is a file)."""
        if self.path.exists() and not self.path.is_dir():
            raise IbenchError(f"{self.path}: exists and is not a folder; choose another run directory")

    def create(self) -> None:
        """Make the folder, or one error naming its path."""
        self.check_location()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise IbenchError(f"{self.path}: cannot create it ({e.strerror}); choose a writable location") from None

    def adopt(self, source: RunFolder, origin: dict[str, Any] | None = None) -> bool:
        """Make this folder a copy of ``source`` (a finished run that is the same run: same spec, recipe and seed),
        its files hard-linked where the file system allows (every write here replaces a file; worker.log, appended
        to, is copied), with ``origin`` (where it came from) as its :attr:`ORIGIN` file: a source's own is not
        copied (it names that copy's source, from that folder);
        False, and nothing changed, when this folder already has content. The copy is made beside it and renamed."""
        self.check_location()
        if self.path.exists() and any(self.path.iterdir()):
            return False

        def link(src: str, dst: str) -> None:
            if Path(src).name == self.LOG:  # appended to in place: a copy of its own
                shutil.copy2(src, dst)
                return
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)

        staging: Path | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
            staging.rmdir()
            # the copy is a run of its own in the trackers (:func:`~inception_bench.run.tracking.replay`), not the
            # source's
            # nor the source's temporary files (a write in progress) or its own origin
            skipped = shutil.ignore_patterns(
                "wandb", self.TRACKERS, "events.out.tfevents.*", "*mlflow.db*", self.ORIGIN, ".*"
            )
            shutil.copytree(source.path, staging, copy_function=link, ignore=skipped)
            if origin is not None:
                write_json(staging / self.ORIGIN, origin)
            if self.path.exists():
                self.path.rmdir()
            os.rename(staging, self.path)
        except OSError as e:
            if self.path.exists() and any(self.path.iterdir()):  # another process made it first
                return False
            raise IbenchError(f"{self.path}: cannot copy {source.path} there ({e.strerror or e})") from None
        finally:
            if staging is not None and staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return True

    def read_origin(self) -> dict[str, Any] | None:
        """Where a copied run came from (:meth:`adopt`'s ``origin``); None for a run trained here."""
        path = self.path / self.ORIGIN
        return read_json(path) if path.exists() else None

    def read_config(self) -> dict[str, Any]:
        return read_json(self.config_path)

    def write_config(self, config: dict[str, Any]) -> None:
        write_json(self.config_path, config)

    def read_metrics(self) -> list[dict[str, Any]]:
        """The per-epoch rows (none when the run has not finished an epoch)."""
        try:
            lines = self.metrics_path.read_text().splitlines()
            return [json.loads(line) for line in lines if line.strip()]
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as e:
            raise IbenchError(f"{self.metrics_path}: corrupt metrics file ({' '.join(str(e).split())})") from None

    @property
    def attempts_path(self) -> Path:
        return self.path / self.ATTEMPTS

    def start_attempt(self, node: str, command: str) -> int:
        """Note that a worker starts this run (again, after a worker or node died) on ``node`` for the ablate
        invocation ``command``: one more line in attempts.jsonl (attempt number, command, node, pid, time). Returns
        how many attempts ``command`` has made, this one included."""
        attempts = self.read_attempts()
        entry = {"attempt": len(attempts) + 1, "command": command, "node": node, "pid": os.getpid()}
        entry["started"] = time.time()
        atomic_write_text(self.attempts_path, "".join(json.dumps(a) + "\n" for a in [*attempts, entry]))
        return sum(a.get("command") == command for a in [*attempts, entry])

    def read_attempts(self) -> list[dict[str, Any]]:
        """The workers that started this run, oldest first (none outside the Ray backend)."""
        try:
            attempts = [json.loads(line) for line in self.attempts_path.read_text().splitlines() if line.strip()]
            if not all(isinstance(a, dict) for a in attempts):
                raise ValueError("a line is not a JSON object")
        except (FileNotFoundError, NotADirectoryError):  # none, or no run folder (a file in its way: said elsewhere)
            return []
        except (OSError, ValueError) as e:
            raise IbenchError(f"{self.attempts_path}: corrupt attempts file ({' '.join(str(e).split())})") from None
        return attempts

    def write_metrics(self, rows: list[dict[str, Any]]) -> None:
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))

    def read_record(self) -> RunRecord | None:
        """The run's record, or None while it has none."""
        if not self.has_record():
            return None
        data = read_json(self.record_path, _REDO)
        try:
            record = RunRecord.model_validate(data)
        except ValidationError as e:
            why = e.errors()[0]["msg"]
            raise IbenchError(f"{self.record_path}: corrupt results file ({why}); {_REDO}") from None
        if not record.status.finished:
            why = f"status {record.status!s} is not a finished run's"
            raise IbenchError(f"{self.record_path}: corrupt results file ({why}); {_REDO}")
        return record

    def write_record(self, record: RunRecord) -> None:
        write_json(
            self.record_path, record.model_dump(mode="json", exclude=set() if record.exit_code else {"exit_code"})
        )

    def clear_record(self) -> None:
        """Forget the outcome (to retry the run from its last checkpoint): a copied run retried is trained here, so
        its origin goes too."""
        self.record_path.unlink(missing_ok=True)
        (self.path / self.ORIGIN).unlink(missing_ok=True)

    def read_request(self) -> dict[str, Any] | None:
        hint = "delete the run folder to redo that run"
        return read_json(self.request_path, hint) if self.request_path.exists() else None

    def write_request(self, request: dict[str, Any]) -> None:
        write_json(self.request_path, request)

    @property
    def trackers_path(self) -> Path:
        return self.path / self.TRACKERS

    def read_trackers(self) -> dict[str, Any]:
        """What each tracker (W&B, MLflow) has of this run: its id there and the epochs it was sent."""
        if not self.trackers_path.exists():
            return {}
        return read_json(self.trackers_path, "delete it to send this run to new tracker runs")

    def write_trackers(self, state: dict[str, Any]) -> None:
        write_json(self.trackers_path, state)

    def forget_trackers(self) -> None:
        """A run starting from scratch: its tracker runs are new ones, not an earlier start's."""
        self.trackers_path.unlink(missing_ok=True)

    def log_tail(self) -> str:
        """The worker log's last non-empty line (at most 300 characters), or ""."""
        try:
            lines = [line.strip() for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""


@dataclass(frozen=True)
class AblationFolder:
    """An ablation's output folder (see the module docstring)."""

    path: Path
    RESULTS = "results.csv"
    META = "ablation.json"
    BENCH = "bench.csv"

    TUNING = "tuning.csv"

    def run(self, variant: str, seed: int | str) -> RunFolder:
        return RunFolder(self.path / variant / f"seed-{seed}")

    def tune_run(self, variant: str, candidate: str, epochs: int | None = None) -> RunFolder:
        """A tuning run: one candidate of ``tune:`` for one variant, at the run's length or, in a shorter rung of
        successive halving, at ``epochs``."""
        return RunFolder(
            self.path / "tune" / variant / (candidate if epochs is None else f"{candidate}_epochs-{epochs}")
        )

    @property
    def tuning_path(self) -> Path:
        return self.path / self.TUNING

    def write_tuning(self, rows: list[dict[str, Any]]) -> None:
        """tuning.csv: one row per tuning run (variant, tune:<field> values, rung, epochs, status, val_top1,
        val_top5, kept, chosen)."""
        import pandas as pd

        atomic_write_text(self.tuning_path, pd.DataFrame(self._relative(rows)).to_csv(index=False))

    def read_tuning(self) -> pd.DataFrame | None:
        """tuning.csv, or None when the ablation tuned nothing."""
        if not self.tuning_path.exists():
            return None
        return read_csv(self.tuning_path, "corrupt tuning file", "; rerun `ibench ablate`")

    @property
    def results_path(self) -> Path:
        return self.path / self.RESULTS

    @property
    def meta_path(self) -> Path:
        return self.path / self.META

    @property
    def bench_path(self) -> Path:
        return self.path / self.BENCH

    def write_results(self, rows: list[dict[str, Any]], axes: list[str]) -> None:
        """results.csv: :data:`RESULT_COLUMNS`, then one column per varied axis, then the rest."""
        import pandas as pd

        columns = RESULT_COLUMNS + [c for c in axes if c not in RESULT_COLUMNS]
        rows = self._relative(rows)
        frame = pd.DataFrame(rows).reindex(columns=list(dict.fromkeys(columns + [k for r in rows for k in r])))
        atomic_write_text(self.results_path, frame.to_csv(index=False))

    def read_results(self) -> pd.DataFrame:
        if not self.results_path.exists():
            raise IbenchError(f"{self.results_path}: not found; run `ibench ablate` first")
        frame = read_csv(self.results_path, "corrupt results file")
        missing = [c for c in ("variant", "seed", "status") if c not in frame.columns]
        if missing:
            raise IbenchError(f"{self.results_path}: not an ibench results.csv (missing columns {', '.join(missing)})")
        return frame

    def run_dir(self, path: str | Path) -> str:
        """A run folder as results.csv and tuning.csv name it: relative to this folder when inside it
        (``<variant>/seed-<s>``), so that the file stays true when the folder is moved, cloned or committed; else as
        given. :meth:`run_path` reads it back."""
        path = Path(path)
        return path.relative_to(self.path).as_posix() if path.is_relative_to(self.path) else str(path)

    def _relative(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows with their ``run_dir`` as :meth:`run_dir` names it."""
        return [{**row, "run_dir": self.run_dir(row["run_dir"])} if row.get("run_dir") else row for row in rows]

    def run_path(self, run_dir: str) -> Path:
        """A ``run_dir`` of results.csv or tuning.csv as a path: relative ones are inside this folder; absolute
        ones (files written before run_dir was relative) are where they were written."""
        return self.path / run_dir

    def has_results(self) -> bool:
        return self.results_path.exists()

    def write_meta(self, meta: dict[str, Any]) -> None:
        write_json(self.meta_path, meta)

    def read_meta(self) -> dict[str, Any]:
        hint = "delete it; `ibench ablate` writes it again"
        return read_json(self.meta_path, hint) if self.meta_path.exists() else {}

    def run_folders(self) -> list[RunFolder]:
        """Every run folder with a record at or below this folder (itself, ``<run>/``, ``<variant>/seed-<s>/``)."""
        candidates = [self.path, *sorted(self.path.glob("*")), *sorted(self.path.glob("*/*"))]
        return [RunFolder(p) for p in candidates if RunFolder(p).has_record()]


@dataclass(frozen=True)
class ReportFolder:
    """What ``ibench report`` writes: report.md with its PNG figures beside it, report.html (self-contained) and
    summary.csv (one row per variant of every study)."""

    path: Path
    MARKDOWN = "report.md"
    HTML = "report.html"
    SUMMARY = "summary.csv"

    def write(self, markdown: str, html: str, summary_csv: str, images: dict[str, bytes]) -> None:
        for name, png in images.items():
            atomic_write_bytes(self.path / name, png)
        atomic_write_text(self.path / self.MARKDOWN, markdown)
        atomic_write_text(self.path / self.HTML, html)
        atomic_write_text(self.path / self.SUMMARY, summary_csv)


@dataclass(frozen=True)
class LrFindFolder:
    """What ``ibench lr-find`` writes: lr-find.csv (step, lr, loss, smoothed_loss), lr-find.png (the curve) and
    lr-find.json (the suggestions and the settings)."""

    path: Path
    CSV = "lr-find.csv"
    PLOT = "lr-find.png"
    SUMMARY = "lr-find.json"

    def write(self, csv: str, png: bytes, summary: dict[str, Any]) -> None:
        atomic_write_text(self.path / self.CSV, csv)
        atomic_write_bytes(self.path / self.PLOT, png)
        write_json(self.path / self.SUMMARY, summary)
