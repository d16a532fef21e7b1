"""Ablation grids: one YAML file describes an experiment (variants x seeds), one command runs all of it.

An ablation file (``specs/ablations/*.yaml``)::

    name: paper
    spec: ../googlenet-small.yaml     # the base spec, relative to this file
    data: digits
    recipe: {epochs: 8, schedule: cosine}   # ibench train's options (Recipe fields)
    seeds: [0, 1, 2]
    set: {width_mult: 0.5}            # overrides for every variant (the keys of --set)
    grid:                             # every combination of these axes ...
      module: [naive, reduced]
      aux.enabled: [true, false]
    variants:                         # ... and/or named variants, each an override of the base spec
      - {name: no-5x5, set: {layers.*.5x5: 0}}
      - {name: high-lr, recipe: {lr: 0.2}}
    baseline: module-reduced_aux.enabled-true   # compared against in reports (default: the first variant)

Layout: ``DIR/<variant>/seed-<s>/`` is an ``ibench train`` run directory plus ``request.json`` (what was asked)
and ``worker.log``; ``DIR/results.csv`` has one row per run (rewritten atomically after each run).

Each run is its own process (``python -m inception_bench.ablate RUN_DIR``), so a crash or an out-of-memory
kill is recorded as that run's failure and the rest of the grid goes on. Re-running the same command skips
completed runs (their files untouched), resumes partial ones from their last checkpoint, reruns failed or
diverged ones only with ``--retry-failed``, and reports runs whose recorded request no longer matches the
ablation file (``--rerun-changed`` discards and redoes them).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from inception_bench.errors import IbenchError, SpecError
from inception_bench.results import FINAL, read_json, write_json, write_results_csv
from inception_bench.spec import SPEC_DIR, display_path, load_spec, read_yaml, validation_message

ABLATION_DIR = SPEC_DIR / "ablations"
REQUEST = "request.json"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.=-]*$"


class VariantSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=_NAME)
    set: dict[str, Any] = Field(default_factory=dict)
    recipe: dict[str, Any] = Field(default_factory=dict)


class AblationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=_NAME)
    description: str = ""
    spec: str = "../googlenet-small.yaml"
    data: str = "digits"
    recipe: dict[str, Any] = Field(default_factory=dict)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    set: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    variants: list[VariantSpec] = Field(default_factory=list)
    baseline: str | None = None

    @model_validator(mode="after")
    def _check(self) -> AblationSpec:
        if not self.grid and not self.variants:
            raise ValueError("give a 'grid' of axes or a list of 'variants' (or both)")
        for axis, values in self.grid.items():
            if not values:
                raise ValueError(f"grid.{axis}: needs at least one value")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: must be distinct")
        return self


@dataclass
class PlannedRun:
    variant: str
    seed: int
    overrides: dict[str, Any]
    recipe: dict[str, Any]
    axes: dict[str, Any]
    run_dir: Path
    status: str = "new"  # new | partial | completed | diverged | failed | changed
    request: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    ablation: AblationSpec
    path: Path
    spec_path: Path
    out: Path
    runs: list[PlannedRun]
    axes: list[str]
    baseline: str


# ------------------------------------------------------------------------------------------------ loading
def _value_name(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return "+".join(_value_name(v) for v in value) or "none"
    return re.sub(r"[^A-Za-z0-9_.+-]", "", str(value)) or "x"


def _recipe_fields() -> set[str]:
    from inception_bench.train import Recipe

    return {f.name for f in fields(Recipe)}


def load_ablation(path: str | Path) -> AblationSpec:
    path = Path(path)
    raw = read_yaml(path, what="ablation")
    try:
        ablation = AblationSpec.model_validate(raw)
    except ValidationError as e:
        raise IbenchError(validation_message(str(path), raw, e, "specs/ablations/paper.yaml")) from None
    known = _recipe_fields() - {"seed", "data"}
    for where, recipe in [("recipe", ablation.recipe)] + [
        (f"variants.{v.name}.recipe", v.recipe) for v in ablation.variants
    ]:
        unknown = sorted(set(recipe) - known)
        if unknown:
            raise IbenchError(f"{path}: {where}: unknown field {unknown[0]!r}; use ibench train's: {sorted(known)}")
    return ablation


def plan_ablation(path: str | Path, out: Path | None = None) -> Plan:
    """Every (variant, seed) run of an ablation, each checked to build, with its current status in ``out``."""
    from inception_bench.train import Recipe

    path = Path(path)
    ablation = load_ablation(path)
    spec_path = (path.parent / ablation.spec).resolve()
    out = Path(out) if out is not None else Path("runs") / ablation.name
    variants: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = []
    keys = list(ablation.grid)
    for combo in itertools.product(*(ablation.grid[k] for k in keys)):
        axes = dict(zip(keys, combo, strict=True))
        name = "_".join(f"{k}-{_value_name(v)}" for k, v in axes.items())
        variants.append((name, axes, axes, {}))
    for v in ablation.variants:
        variants.append((v.name, v.set, dict(v.set), v.recipe))
    names = [v[0] for v in variants]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise IbenchError(f"{path}: variant names must be unique, repeated: {', '.join(dup)}")
    baseline = ablation.baseline or names[0]
    if baseline not in names:
        raise IbenchError(f"{path}: baseline: {baseline!r} is not a variant (have {', '.join(names)})")
    axis_names = list(dict.fromkeys(k for _, axes, _, _ in variants for k in axes))

    runs: list[PlannedRun] = []
    for name, overrides, axes, recipe_overrides in variants:
        merged = {**ablation.set, **overrides}
        try:
            loaded = load_spec(spec_path, merged)
        except SpecError as e:
            raise IbenchError(f"{path}: variant {name}: {e}") from None
        for seed in ablation.seeds:
            try:
                typed = TypeAdapter(Recipe).validate_python(
                    {"data": ablation.data, "seed": seed, **ablation.recipe, **recipe_overrides}
                )
                typed.validate()
            except ValidationError as e:
                err = e.errors()[0]
                where = ".".join(str(x) for x in err["loc"])
                raise IbenchError(f"{path}: variant {name}: recipe.{where}: {err['msg']}") from None
            except IbenchError as e:
                raise IbenchError(f"{path}: variant {name}: recipe: {e}") from None
            recipe = asdict(typed)
            spec_dump = loaded.spec.model_dump(mode="json", by_alias=True)
            resolved = {k: axes[k] if k in axes else resolved_value(spec_dump, k) for k in axis_names}
            run = PlannedRun(name, seed, merged, recipe, resolved, out / name / f"seed-{seed}")
            run.request = {
                "ablation": ablation.name,
                "variant": name,
                "seed": seed,
                "spec_path": str(spec_path),
                "overrides": merged,
                "spec": spec_dump,
                "recipe": recipe,
            }
            run.status = _status(run)
            runs.append(run)
    return Plan(ablation, path, spec_path, out, runs, axis_names, baseline)


def resolved_value(spec_dump: dict[str, Any], key: str) -> Any:
    """The value an override key has in a resolved spec (so a variant that leaves an axis alone still has a
    value on it: ``module`` is ``reduced`` unless overridden). ``layers.*.C`` reads the first inception row."""
    parts = key.split(".")
    if parts[0] == "layers" and len(parts) == 3:
        rows = [r for r in spec_dump.get("layers", []) if parts[1] in (str(r.get("id")), "*") and
                (parts[1] != "*" or r.get("type") == "inception")]  # fmt: skip
        return rows[0].get(parts[2]) if rows else None
    value: Any = spec_dump
    for part in parts:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _comparable(request: dict[str, Any]) -> dict[str, Any]:
    from inception_bench.train import portable_recipe

    return {"spec": request.get("spec"), "recipe": portable_recipe(request.get("recipe")), "seed": request.get("seed")}


def _status(run: PlannedRun) -> str:
    request_path = run.run_dir / REQUEST
    if not request_path.exists():
        return "partial" if (run.run_dir / "checkpoint.pt").exists() else "new"
    if _comparable(read_json(request_path)) != _comparable(run.request):
        return "changed"
    final = run.run_dir / FINAL
    if final.exists():
        return str(read_json(final).get("status", "failed"))
    return "partial" if (run.run_dir / "checkpoint.pt").exists() else "new"


def select_shard(runs: list[PlannedRun], shard: str | None) -> list[PlannedRun]:
    """``--shard i/n`` (1 <= i <= n): every n-th run of the plan's fixed order, starting at the i-th."""
    if shard is None:
        return runs
    m = re.fullmatch(r"(\d+)/(\d+)", shard.strip())
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise IbenchError(f"--shard {shard}: use i/n with 1 <= i <= n, e.g. --shard 1/4")
    i, n = int(m.group(1)), int(m.group(2))
    return runs[i - 1 :: n]


# ------------------------------------------------------------------------------------------------ running
def run_one(run_dir: Path) -> int:
    """The worker: train the run described by ``run_dir/request.json`` (resuming its checkpoint if any)."""
    from inception_bench.train import Recipe, train

    request = read_json(run_dir / REQUEST)
    loaded = load_spec(request["spec_path"], request["overrides"])
    final = train(loaded, Recipe(**request["recipe"]), run_dir, resume=True, quiet=True)
    return 0 if final["status"] in ("completed", "diverged") else 1


def _record(run: PlannedRun) -> dict[str, Any]:
    row: dict[str, Any] = {"variant": run.variant, "seed": run.seed, "status": run.status}
    final_path = run.run_dir / FINAL
    if run.status not in ("new", "partial", "changed") and final_path.exists():
        final = read_json(final_path)
        for key in ("val_top1", "val_top5", "params", "ops", "train_images_per_sec", "wall_seconds", "epochs"):
            row[key] = final.get(key)
        row["error"] = final.get("message") or None
    row.update({f"axis:{k}" if k in row else k: _axis_value(v) for k, v in run.axes.items()})
    row["run_dir"] = str(run.run_dir)
    return row


def _axis_value(value: Any) -> Any:
    return "+".join(map(str, value)) if isinstance(value, list) else value


def write_results(plan: Plan) -> Path:
    """``results.csv`` (one row per run) and ``ablation.json`` (what the grid is, for ``ibench report``)."""
    path = plan.out / "results.csv"
    write_results_csv([_record(r) for r in plan.runs], path, extra_columns=plan.axes)
    write_json(
        plan.out / "ablation.json",
        {
            "name": plan.ablation.name,
            "description": plan.ablation.description,
            "file": display_path(plan.path),
            "spec": display_path(plan.spec_path),
            "data": plan.ablation.data,
            "baseline": plan.baseline,
            "axes": plan.axes,
            "seeds": plan.ablation.seeds,
            "variants": list(dict.fromkeys(r.variant for r in plan.runs)),
            "overrides": {r.variant: r.overrides for r in plan.runs},
        },
    )
    return path


def _launch(run: PlannedRun, env_extra: dict[str, str]) -> None:
    """Run one (variant, seed) in its own process; leave a final.json behind unless it was interrupted."""
    run.run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run.run_dir / REQUEST, run.request)
    env = {**os.environ, **env_extra}
    with open(run.run_dir / "worker.log", "ab") as log:
        proc = subprocess.run(
            [sys.executable, "-m", "inception_bench.ablate", str(run.run_dir)], stdout=log, stderr=log, env=env
        )
    final = run.run_dir / FINAL
    if final.exists():  # the worker's own record (completed, diverged, or failed with its message)
        run.status = str(read_json(final).get("status", "failed"))
        return
    if proc.returncode in (-signal.SIGINT, -signal.SIGTERM, 130):
        run.status = "partial"  # interrupted, not failed: the next run of the command resumes it
        return
    tail = _last_line(run.run_dir / "worker.log") or f"exit code {proc.returncode}"
    if proc.returncode < 0:
        tail = f"killed by signal {-proc.returncode} (out of memory?); {tail}"
    write_json(final, {"status": "failed", "message": tail, "exit_code": proc.returncode})
    run.status = "failed"


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def run_plan(
    plan: Plan,
    runs: list[PlannedRun],
    *,
    jobs: int = 1,
    devices: list[str] | None = None,
    retry_failed: bool = False,
    rerun_changed: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Run what is left of ``runs``; returns a summary. ``results.csv`` is rewritten after every run."""
    todo: list[PlannedRun] = []
    for run in runs:
        if run.status in ("failed", "diverged") and retry_failed:
            (run.run_dir / FINAL).unlink()  # continue from the last checkpoint, if there is one
            run.status = "partial"
        if run.status == "changed" and rerun_changed:
            shutil.rmtree(run.run_dir, ignore_errors=True)
            run.status = "new"
        if run.status in ("new", "partial"):
            todo.append(run)
    jobs = len(devices) if devices else max(1, jobs)
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    free: list[str] = list(devices or [])
    lock = threading.Lock()
    done = [0]
    started = time.perf_counter()
    write_results(plan)
    display = _Display(plan, todo, enabled=progress)

    stopping = threading.Event()

    def work(run: PlannedRun) -> None:
        if stopping.is_set():
            return
        with lock:
            device = free.pop(0) if devices else None
        env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        if device is not None:
            env["CUDA_VISIBLE_DEVICES"] = device
        display.start(run)
        try:
            _launch(run, env)
        finally:
            with lock:
                if device is not None:
                    free.append(device)
                done[0] += 1
                write_results(plan)
            display.finish(run, done[0])

    with display, ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(work, run) for run in todo]
        try:
            for future in futures:
                future.result()
        except KeyboardInterrupt:  # the workers got the signal too; start no new run, keep what is done
            stopping.set()
            for future in futures:
                future.cancel()
            raise
        finally:
            write_results(plan)
    statuses = [r.status for r in runs]
    return {
        "ran": len(todo),
        "total": len(runs),
        "completed": statuses.count("completed"),
        "failed": [(r.variant, r.seed, r.status, _error(r)) for r in runs if r.status in ("failed", "diverged")],
        "changed": [(r.variant, r.seed) for r in runs if r.status == "changed"],
        "seconds": time.perf_counter() - started,
        "results": str(plan.out / "results.csv"),
    }


def _error(run: PlannedRun) -> str:
    final = run.run_dir / FINAL
    return str(read_json(final).get("message", "")) if final.exists() else ""


class _Display:
    """Overall progress (runs done / total, ETA) and each running run's epoch, from its metrics.jsonl."""

    def __init__(self, plan: Plan, todo: list[PlannedRun], enabled: bool) -> None:
        self.todo, self.enabled = todo, enabled
        self.live = enabled and sys.stderr.isatty() and bool(todo)
        self.epochs = {id(r): int(r.recipe["epochs"]) for r in todo}
        self.tasks: dict[int, Any] = {}
        self.stop = threading.Event()
        self.started = time.perf_counter()

    def __enter__(self) -> _Display:
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
            )
            self.overall = self.progress.add_task("runs", total=len(self.todo))
            self.progress.start()
            self.poller = threading.Thread(target=self._poll, daemon=True)
            self.poller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.live:
            self.progress.stop()

    def _poll(self) -> None:
        while not self.stop.wait(1.0):
            for run in [r for r in self.todo if id(r) in self.tasks]:
                try:
                    n = len((run.run_dir / "metrics.jsonl").read_text().splitlines())
                except OSError:
                    n = 0
                self.progress.update(self.tasks[id(run)], completed=n)

    def start(self, run: PlannedRun) -> None:
        if self.live:
            self.tasks[id(run)] = self.progress.add_task(
                f"  {run.variant} seed {run.seed} (epochs)", total=self.epochs[id(run)]
            )

    def finish(self, run: PlannedRun, done: int) -> None:
        elapsed = time.perf_counter() - self.started
        eta = elapsed / done * (len(self.todo) - done)
        line = f"[{done}/{len(self.todo)}, ETA {eta:.0f} s] {run.variant} seed {run.seed}: {run.status}"
        final = run.run_dir / FINAL
        if final.exists():
            rec = read_json(final)
            if rec.get("val_top1") is not None:
                line += f", top-1 {rec['val_top1']:.2%}"
            if rec.get("wall_seconds") is not None:
                line += f", {rec['wall_seconds']:.0f} s"
            if run.status != "completed" and rec.get("message"):
                line += f" ({rec['message']})"
        if self.live:
            self.progress.remove_task(self.tasks.pop(id(run)))
            self.progress.advance(self.overall)
            self.progress.console.print(line, highlight=False)
        elif self.enabled:
            print(line, file=sys.stderr, flush=True)


def plan_rows(plan: Plan, runs: list[PlannedRun]) -> list[dict[str, Any]]:
    """The dry-run table: one row per variant with its params and ops and its runs' statuses."""
    from inception_bench.count import count

    rows = []
    for variant in dict.fromkeys(r.variant for r in runs):
        mine = [r for r in runs if r.variant == variant]
        totals = count(load_spec(plan.spec_path, mine[0].overrides)).total
        rows.append(
            {
                "variant": variant,
                "seeds": ",".join(str(r.seed) for r in mine),
                "params": totals["params"],
                "ops": totals["ops"],
                "status": ", ".join(f"{r.seed}:{r.status}" for r in mine),
                "overrides": " ".join(f"{k}={v}" for k, v in mine[0].overrides.items()),
            }
        )
    return rows


def describe(plan: Plan) -> str:
    return (
        f"{display_path(plan.path)}: {len(plan.runs)} runs ({plan.ablation.data}, base {display_path(plan.spec_path)})"
    )


if __name__ == "__main__":
    sys.exit(run_one(Path(sys.argv[1])))
