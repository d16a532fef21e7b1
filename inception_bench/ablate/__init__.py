"""Ablation grids: one YAML file describes an experiment (variants x seeds), one command runs all of it.

- :mod:`~inception_bench.ablate.plan`: the file, its variants (specs derived in memory), the planned runs and
  their statuses, results.csv.
- :mod:`~inception_bench.ablate.local`: the local backend (worker processes on this machine).
- ``python -m inception_bench.ablate RUN_DIR``: the worker (:mod:`~inception_bench.ablate.__main__`).
"""

from inception_bench.ablate.local import LocalBackend, Summary
from inception_bench.ablate.plan import (
    Plan,
    PlannedRun,
    adopt_chosen,
    describe,
    is_ablation,
    load_ablation,
    plan_ablation,
    plan_table,
    select_shard,
    variant_specs,
    write_results,
)

__all__ = [
    "LocalBackend",
    "Plan",
    "PlannedRun",
    "Summary",
    "adopt_chosen",
    "describe",
    "is_ablation",
    "load_ablation",
    "plan_ablation",
    "plan_table",
    "select_shard",
    "variant_specs",
    "write_results",
]
