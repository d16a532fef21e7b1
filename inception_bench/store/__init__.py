"""Where results live: run records and the folders that hold them, the one package that knows file names and
layouts.

- :mod:`~inception_bench.store.io`: atomic writes, JSON reading with one-line errors.
- :mod:`~inception_bench.store.records`: a run's status and record (final.json), results.csv rows, eval records.
- :mod:`~inception_bench.store.folders`: run, ablation, report and lr-find folders.


- A run folder (:class:`RunFolder`, what ``ibench train --out`` writes) holds ``config.json`` (what was run),
  ``metrics.jsonl`` (one line per epoch), ``checkpoint.pt`` (after every epoch), ``final.json`` (the
  :class:`RunRecord`), and, when an ablation launched it, ``request.json`` (what was asked) and ``worker.log``;
  under the Ray backend also ``attempts.jsonl`` (one line per worker that started the run: attempt, node, pid);
  a run copied from another ablation's folder (``ibench ablate --reuse``) ``copied-from.json`` (``from``: the
  source folder relative to the copy; ``ablation``: the name of the ablation that trained it).
  With ``--log``: TensorBoard's event files, W&B's ``wandb/`` folder, ``trackers.json`` (the run's W&B and MLflow
  ids and how many epochs each was sent) and, for ``ibench train``, ``mlflow.db`` (a local MLflow store).
- An ablation folder (:class:`AblationFolder`, ``ibench ablate --out``) holds one run folder per (variant, seed)
  at ``<variant>/seed-<seed>/``, ``results.csv`` (one row per run, :data:`RESULT_COLUMNS` first),
  ``ablation.json`` (what the grid is), optionally ``bench.csv`` (``ibench bench --output``) and, with ``--log mlflow``,
  ``mlflow.db`` (the local MLflow store of all its runs).
- ``ibench eval`` writes ``eval-<crops>crop.json`` records (:func:`eval_record_path`); ``ibench report`` writes a
  :class:`ReportFolder`.

Every write is atomic (a temp file in the same folder, then rename), so an interrupted run never leaves a
half-written record or checkpoint behind. Accuracies are fractions in 0..1, times in seconds.
"""

from inception_bench.store.folders import AblationFolder, LrFindFolder, ReportFolder, RunFolder
from inception_bench.store.io import atomic_write_bytes, atomic_write_text, read_json, write_json
from inception_bench.store.records import (
    RECORD_COLUMNS,
    RESULT_COLUMNS,
    RunRecord,
    RunStatus,
    eval_record_path,
    find_eval_records,
    result_row,
)

__all__ = [
    "RECORD_COLUMNS",
    "RESULT_COLUMNS",
    "AblationFolder",
    "LrFindFolder",
    "ReportFolder",
    "RunFolder",
    "RunRecord",
    "RunStatus",
    "atomic_write_bytes",
    "atomic_write_text",
    "eval_record_path",
    "find_eval_records",
    "read_json",
    "result_row",
    "write_json",
]
