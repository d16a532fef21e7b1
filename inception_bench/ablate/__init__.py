"""Ablation grids: one YAML file describes an experiment (variants x seeds), one command runs all of it.

- :mod:`~inception_bench.ablate.file`: the file, its variants (specs derived in memory), each run's recipe.
- :mod:`~inception_bench.ablate.plan`: the planned runs (:mod:`~inception_bench.ablate.runs`) and their statuses,
  tuning (:mod:`~inception_bench.ablate.tuning`, :mod:`~inception_bench.ablate.protocol`), results.csv.
- :mod:`~inception_bench.ablate.reuse`: runs copied from other ablations' folders (``--reuse``).
- :mod:`~inception_bench.ablate.local`: the local backend (worker processes on this machine).
- :mod:`~inception_bench.ablate.cluster`: the Ray backend (tasks on a Ray cluster; ``ray`` imported only there).
- ``python -m inception_bench.ablate RUN_DIR``: the worker (:mod:`~inception_bench.ablate.worker`).
"""

from __future__ import annotations

from inception_bench.ablate.cluster import RayBackend, import_ray
from inception_bench.ablate.file import ablation_path, is_ablation, load_ablation, variant_specs
from inception_bench.ablate.local import LocalBackend, Summary
from inception_bench.ablate.plan import (
    Plan,
    PlannedRun,
    adopt_chosen,
    check_data,
    describe,
    plan_ablation,
    plan_table,
    seed_order,
    select_shard,
    will_run,
    write_results,
)
from inception_bench.ablate.reuse import Reuse
from inception_bench.errors import FieldError

__all__ = [
    "LocalBackend",
    "RayBackend",
    "Plan",
    "Reuse",
    "PlannedRun",
    "Summary",
    "ablation_path",
    "adopt_chosen",
    "check_data",
    "describe",
    "is_ablation",
    "load_ablation",
    "make_backend",
    "plan_ablation",
    "plan_table",
    "seed_order",
    "select_shard",
    "variant_specs",
    "will_run",
    "write_results",
]


def make_backend(
    name: str,
    jobs: int | None,
    devices: str | None,
    ray_address: str | None = None,
    cpus_per_run: int | None = None,
    max_retries: int | None = None,
) -> LocalBackend | RayBackend:
    """The backend ``ibench ablate --backend NAME`` asks for, its options checked (each error names its option)."""
    if name == "ray":
        if devices is not None:
            raise FieldError("devices", "with --backend ray, Ray assigns the GPUs; leave --devices out", devices)
        import_ray()  # before anything is written
        cpus, retries = 1 if cpus_per_run is None else cpus_per_run, 2 if max_retries is None else max_retries
        return RayBackend(ray_address, jobs, cpus, retries)
    for option, value in (("ray_address", ray_address), ("cpus_per_run", cpus_per_run), ("max_retries", max_retries)):
        if value is not None:
            raise FieldError(option, "applies to --backend ray only", value)
    return LocalBackend.from_text(1 if jobs is None else jobs, devices)
