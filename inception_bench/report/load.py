"""What a report reads: ablation folders (results.csv and ablation.json), loose run folders, and ``ibench bench``
CSV files, all through :mod:`inception_bench.store`."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from inception_bench.errors import IbenchError
from inception_bench.store import (
    RESULT_COLUMNS,
    AblationFolder,
    RunFolder,
    RunStatus,
    result_row,
)


@dataclass
class Study:
    """One ablation (or a loose set of runs): its results frame (one row per run) and what the grid is."""

    name: str
    folder: AblationFolder
    frame: pd.DataFrame
    meta: dict[str, Any]
    tuning: pd.DataFrame | None = None  # tuning.csv, when the ablation tuned recipe values

    def completed(self) -> pd.DataFrame:
        return self.frame[self.frame["status"] == RunStatus.completed]

    @property
    def axes(self) -> list[str]:
        """The grid's axes that the results frame has a column for."""
        known = self.meta.get("axes") or ["module", "aux.enabled"]
        return [a for a in known if a in self.frame.columns]

    def labels(self) -> dict[str, str]:
        """Each variant's name for a reader: a grid variant by its axis values (``reduced, aux on``), a named
        variant (``variants:`` in the file) by its name; the names themselves where two would read the same."""
        from inception_bench.ablate.file import grid_name

        labels, axes = {}, self.axes
        for variant, rows in self.frame.groupby("variant", sort=False):
            first, name = rows.iloc[0], str(variant)
            keys = [a for a in axes if f"{a}-" in name]  # the grid's axes this variant is named by
            values = {a: first[a].item() if hasattr(first[a], "item") else first[a] for a in keys}  # numpy: plain
            from_grid = bool(keys) and grid_name(values) == name
            labels[name] = ", ".join(axis_label(a, first[a]) for a in keys) if from_grid else name
        counts = Counter(labels.values())
        return {v: label if counts[label] == 1 else v for v, label in labels.items()}  # a clash: the names

    @property
    def split(self) -> str:
        """What the study is judged on: ``test`` when every completed run has a test score (the held-out split,
        which no choice has seen), else ``val``."""
        done = self.completed()
        has_test = "test_top1" in done.columns and not done.empty and bool(done["test_top1"].notna().all())
        return "test" if has_test else "val"


def axis_label(axis: str, value: Any) -> str:
    """One axis value in words: ``module=naive`` -> ``naive``, ``aux.enabled=True`` -> ``aux on``, others as their
    field's last part and value (``width_mult 0.5``)."""
    text = str(value)
    if axis == "module":
        return text
    if text.lower() in ("true", "false", "on", "off"):
        word = "on" if text.lower() in ("true", "on") else "off"
        return f"{axis.split('.')[0] if axis.endswith('.enabled') else axis.split('.')[-1]} {word}"
    field = ".".join(axis.split(".")[1:]) if axis.startswith("layers.") else axis.split(".")[-1]
    return f"{field} {text}"


def _loose_row(folder: AblationFolder, run: RunFolder) -> dict[str, Any]:
    """A results row for a run folder outside an ablation's results.csv: its variant and seed from the request
    an ablation wrote, else the folder's name and the recorded recipe's seed."""
    record = run.read_record()
    assert record is not None  # run_folders() lists folders with a record
    request = run.read_request() or {}
    seed = request.get("seed")
    if seed is None:
        seed = run.read_config().get("recipe", {}).get("seed", 0) if run.config_path.exists() else 0
    variant = str(request.get("variant") or run.path.name)
    return {**result_row(variant, seed, record.status, record), "run_dir": folder.run_dir(run.path)}


def load_study(path: Path) -> Study:
    """An ``ibench ablate`` folder (its results.csv), or a folder of run folders (``ibench train`` outputs)."""
    folder = AblationFolder(path)
    if folder.has_results():
        meta = folder.read_meta()
        return Study(meta.get("name", path.name), folder, usable(folder.read_results()), meta, folder.read_tuning())
    runs = folder.run_folders()
    if not runs:
        raise IbenchError(
            f"{path}: no {AblationFolder.RESULTS} and no run directory ({RunFolder.RECORD}) inside; give an "
            "`ibench ablate` --out folder or an `ibench train` run directory"
        )
    return Study(path.name, folder, usable(pd.DataFrame([_loose_row(folder, r) for r in runs])), {})


def usable(frame: pd.DataFrame) -> pd.DataFrame:
    """Every results column present; a 'completed' row without its metrics is marked as such, not averaged."""
    frame = frame.reindex(columns=list(dict.fromkeys(RESULT_COLUMNS + list(frame.columns))))
    frame["error"] = frame["error"].astype(object)
    broken = (frame["status"] == RunStatus.completed) & frame[["val_top1", "val_top5", "params", "ops"]].isna().any(
        axis=1
    )
    frame.loc[broken, "status"] = str(RunStatus.incomplete_record)
    frame.loc[broken, "error"] = "the run record lacks val_top1/val_top5/params/ops"
    return frame


def run_folder(study: Study, row: Any) -> RunFolder:
    """A results row's run folder: where the ablation layout puts it in this folder (which may have been moved or
    cloned: results.csv's paths are where it was written), else where the row says (a loose run folder)."""
    layout = study.folder.run(str(row.variant), row.seed)
    run_dir = getattr(row, "run_dir", None)
    recorded = study.folder.run_path(run_dir) if isinstance(run_dir, str) else None
    if recorded is not None and recorded.exists() and not layout.path.exists():
        return RunFolder(recorded)
    return layout


def curves(study: Study) -> dict[str, list[list[float]]]:
    """Validation top-1 error per epoch of each completed run, by variant (runs without metrics are skipped)."""
    out: dict[str, list[list[float]]] = {}
    for row in study.completed().itertuples():
        try:
            metrics = run_folder(study, row).read_metrics()
        except IbenchError:
            continue
        errors = [1 - m["val_top1"] for m in metrics if isinstance(m.get("val_top1"), int | float)]
        if errors and len(errors) == len(metrics):  # a run with an odd metrics row gets no curve
            out.setdefault(str(row.variant), []).append(errors)
    return out


def not_completed(study: Study) -> list[str]:
    """One line per run that did not complete (with its error), and the runs missing from results.csv."""
    frame = study.frame
    notes = []
    for r in frame[frame["status"] != RunStatus.completed].itertuples():
        err = getattr(r, "error", None)
        err = "" if err is None or (isinstance(err, float) and math.isnan(err)) else f": {err}"
        notes.append(f"{r.variant} seed {r.seed}: **{r.status}**{err}")
    seeds, variants = study.meta.get("seeds"), study.meta.get("variants")
    if seeds and variants:
        have = {(str(v), str(s)) for v, s in zip(frame["variant"], frame["seed"], strict=True)}
        missing = [f"{v} seed {s}" for v in variants for s in seeds if (str(v), str(s)) not in have]
        if missing:
            notes.append(f"missing from {AblationFolder.RESULTS}: {', '.join(missing)}")
    return notes


def read_bench_csv(path: Path, needed: set[str]) -> list[dict[str, Any]]:
    """The rows of an ``ibench bench --output`` CSV file (missing values as None)."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise IbenchError(f"{path}: corrupt benchmark file ({' '.join(str(e).split())[:120]})") from None
    if not needed <= set(frame.columns):
        missing = ", ".join(sorted(needed - set(frame.columns)))
        raise IbenchError(f"{path}: not an `ibench bench --output` CSV (missing columns {missing})")
    return [
        {str(k): v for k, v in r.items()} for r in frame.astype(object).where(frame.notna(), None).to_dict("records")
    ]


BENCH_RUN = ("device", "batch_size", "image_size", "precision", "date")  # what one `ibench bench` call shares


def bench_rows(study: Study) -> list[dict[str, Any]]:
    """The measured training rows (not a baseline's or a compiled setup's eager twin) of the study folder's
    bench.csv (``ibench bench ABLATION --mode train`` at the study's batch and image size, as scripts/run_studies.sh
    runs it: every variant in the same interleaved rounds) from its last call only (the rows sharing the last row's
    :data:`BENCH_RUN`), so that an appended file never mixes machines or settings; empty when there is none."""
    path = study.folder.bench_path
    if not path.exists():
        return []
    rows = read_bench_csv(path, {"model", "mode", "role", "images_per_sec", *BENCH_RUN})
    rows = [r for r in rows if r["mode"] == "train" and r["role"] == "fast" and r["images_per_sec"] is not None]
    return [r for r in rows if all(r[k] == rows[-1][k] for k in BENCH_RUN)] if rows else []


def bench_speeds(study: Study) -> dict[str, float]:
    """Training images/s per variant from :func:`bench_rows` (empty when the folder has no bench.csv)."""
    return {str(r["model"]): float(r["images_per_sec"]) for r in bench_rows(study)}


def bench_source(study: Study) -> str | None:
    """Where the study's speeds were measured (device, image size, batch, date), for a reader; None without one."""
    rows = bench_rows(study)
    if not rows:
        return None
    r = rows[-1]
    return f"{r['device']}, {r['image_size']} px, batch {r['batch_size']}, {r['precision']}, {r['date']}"
