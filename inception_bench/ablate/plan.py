"""Ablation plans: which (variant, seed) runs an experiment has, and where each one stands (the file itself:
:mod:`inception_bench.ablate.file`).

Tuning (``tune:``, recipe fields with candidate values): so that a comparison does not hinge on one learning rate
that suits some variants and not others, each variant first trains every combination of the candidates (its
*tuning runs*, seed = the first of ``seeds``, in ``tune/<variant>/<candidate>/``); the candidate with the best
validation top-1 (the split carved from the training data) is chosen, and the variant's seeds then run at the chosen
values (the first seed's run is the chosen tuning run itself: :func:`adopt_chosen` copies it). Those runs are
scored on the data set's held-out test split (``test_top1``), which no choice has seen; the report answers on it.
A variant whose tuning is not finished has its seeds ``waiting``; one whose every candidate failed has them
``failed`` (nothing to run them at).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from inception_bench.ablate.file import AblationSpec, Variant, expand_variants, grid_name, load_ablation, recipe_of
from inception_bench.ablate.runs import PlannedRun
from inception_bench.ablate.tuning import Halving, Tuning, candidates, ranked
from inception_bench.errors import FieldError, IbenchError, one_line
from inception_bench.run.settings import Recipe, parse, portable_recipe
from inception_bench.run.tracking import Naming, replay
from inception_bench.spec import (
    Spec,
    display_path,
    referred_file,
)
from inception_bench.store import AblationFolder, RunFolder, RunStatus

T = TypeVar("T")


@dataclass
class Plan:
    ablation: AblationSpec
    path: Path
    spec_path: Path
    out: AblationFolder
    runs: list[PlannedRun]
    axes: list[str]
    baseline: str
    tuning: list[Tuning] = field(default_factory=list)

    @property
    def tuning_runs(self) -> list[PlannedRun]:
        return [r for t in self.tuning for r in t.runs]


def resolved_value(spec_dump: dict[str, Any], key: str) -> Any:
    """The value an override key has in a resolved spec (so a variant that leaves an axis alone still has a
    value on it: ``module`` is ``reduced`` unless overridden). ``layers.*.C`` reads the first inception row."""
    parts = key.split(".")
    if parts[0] == "layers" and len(parts) == 3:
        rows = [
            r
            for r in spec_dump.get("layers", [])
            if (str(r.get("id")) == parts[1]) or (parts[1] == "*" and r.get("type") == "inception")
        ]
        return rows[0].get(parts[2]) if rows else None
    value: Any = spec_dump
    for part in parts:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _comparable(request: dict[str, Any]) -> dict[str, Any]:
    spec, recipe = Spec.recorded(request.get("spec")), portable_recipe(request.get("recipe"))
    return {"spec": spec, "recipe": recipe, "seed": request.get("seed")}


def run_identity(request: dict[str, Any]) -> str:
    """What makes two planned runs the same finished run, as text: their spec (as recorded), portable recipe, seed
    and not-learning guard (a machine field for resuming, which it does not change, but it decides where a finished
    run ended); not the ablation, variant or folder they were planned in, nor the machine they ran on."""
    recipe = {**Recipe.LEGACY, **(request.get("recipe") or {})}
    guard = {k: recipe.get(k) for k in ("not_learning", "not_learning_after")}
    return json.dumps({**_comparable(request), "guard": guard}, sort_keys=True, default=str)


def run_status(run: PlannedRun) -> RunStatus:
    """Where a planned run stands on disk: its record's status, ``partial``, ``new``, or ``changed`` when the run
    folder was made for a different request."""
    recorded = run.folder.read_request()
    if recorded is not None and _comparable(recorded) != _comparable(run.request):
        return RunStatus.changed
    record = run.folder.read_record() if recorded is not None else None
    if record is not None:
        return record.status
    return RunStatus.partial if run.folder.has_checkpoint() else RunStatus.new


def _check_out(folder: AblationFolder, name: str) -> None:
    """The output must be a folder (or not exist yet), and not another ablation's: writing this one's results there
    would replace that one's ``results.csv`` and ``ablation.json``."""
    if folder.path.exists() and not folder.path.is_dir():
        raise FieldError("out", "is a file; give a folder for the ablation's runs", folder.path)
    other = folder.read_meta().get("name") if folder.meta_path.is_file() else None
    if other is not None and other != name:
        why = f"holds the ablation {other!r}, not {name!r}; give another folder (or delete its {folder.META})"
        raise FieldError("out", why, folder.path)


def plan_ablation(path: str | Path, out: Path | None = None, log: list[str] | None = None) -> Plan:
    """Every (variant, seed) run of an ablation (and every tuning run, with ``tune:``), each checked to build and
    to have a valid recipe, with its current status in ``out`` (default ``runs/<name>``); ``log``: the trackers
    every run also reports to, in place of the file's (``recipe.log``; where a run reports, not what it is)."""
    path = Path(path)
    ablation = load_ablation(path)
    spec_path = referred_file(path, "spec", ablation.spec)
    folder = AblationFolder(Path(out) if out is not None else Path("runs") / ablation.name)
    _check_out(folder, ablation.name)
    variants = expand_variants(ablation, path)
    names = [v.name for v in variants]
    baseline = ablation.baseline or names[0]
    if baseline not in names:
        raise IbenchError(f"{path}: baseline: {baseline!r} is not a variant (have {', '.join(names)})")
    axis_names = list(dict.fromkeys(k for v in variants for k in v.axes))
    recipe_of(path, ablation, ablation.seeds[0])  # the top level on its own, so that its errors name no variant
    tune_values = candidates(ablation.tune) if ablation.tune else []
    for values in tune_values:  # each candidate on its own, so that its errors name the tune key
        recipe_of(path, ablation, ablation.seeds[0], tuned=values)
    runs: list[PlannedRun] = []
    tunings: list[Tuning] = []

    def planned(
        v: Variant, seed: int, tuned: dict[str, Any], run_folder: RunFolder, rung: int | None = None
    ) -> PlannedRun:
        spec_dump = v.loaded.spec.to_raw()
        axes = {k: v.axes[k] if k in v.axes else resolved_value(spec_dump, k) for k in axis_names}
        recipe = recipe_of(path, ablation, seed, v, tuned).model_dump()
        if rung is not None:  # a rung of successive halving: a complete schedule of fewer epochs
            recipe["epochs"] = rung
        if log is not None:
            recipe["log"] = parse(Recipe, {**recipe, "log": log}, "recipe").log
        run = PlannedRun(v.name, seed, v.loaded.overrides, recipe, axes, run_folder, spec=v.loaded.spec, tuned=tuned)
        run.request = {
            "ablation": ablation.name,
            "variant": v.name,
            "seed": seed,
            "spec_path": str(spec_path),
            "overrides": v.loaded.overrides,
            "spec": spec_dump,
            "recipe": recipe,
            # how trackers name the run (its folder within the ablation's) and where a local MLflow store is
            "tracking": {
                "name": run_folder.path.relative_to(folder.path).as_posix(),
                "store": str(folder.path.resolve()),
            },
        }
        run.status = run_status(run)
        return run

    for v in variants:
        chosen: dict[str, Any] | None = {}
        blocked: tuple[RunStatus, str] | None = None
        if tune_values:
            epochs = recipe_of(path, ablation, ablation.seeds[0], v).epochs
            try:
                rung_epochs = ablation.halving.rung_epochs(epochs) if ablation.halving is not None else [epochs]
            except ValueError as e:
                raise IbenchError(f"{path}: variant {v.name}: {e}") from None
            tuning = _tuning(v, ablation.seeds[0], tune_values, rung_epochs, epochs, ablation.halving, planned, folder)
            chosen = tuning.chosen
            tunings.append(tuning)
            if not tuning.finished:
                blocked = (RunStatus.waiting, "waiting for its tuning runs")
            elif chosen is None:
                blocked = (RunStatus.failed, "every tuning candidate failed (see tuning.csv): nothing to run it at")
        for seed in ablation.seeds:
            run = planned(v, seed, chosen if chosen is not None else tune_values[0], folder.run(v.name, seed))
            if blocked is not None:  # its recipe is not known yet (or never will be): nothing to run
                run.status, run.note, run.tuned = blocked[0], blocked[1], {}
            runs.append(run)
    return Plan(ablation, path, spec_path, folder, runs, axis_names, baseline, tunings)


def _tuning(
    v: Variant,
    seed: int,
    tune_values: list[dict[str, Any]],
    rung_epochs: list[int],
    epochs: int,
    halving: Halving | None,
    planned: Callable[..., PlannedRun],
    folder: AblationFolder,
) -> Tuning:
    """One variant's tuning as far as it can be planned: each rung's candidates are the best of the rung before,
    known once that rung has finished (see :mod:`~inception_bench.ablate.tuning`)."""
    tuning = Tuning(v.name, epochs=rung_epochs)
    alive = tune_values
    for k, rung in enumerate(rung_epochs):
        short = None if rung == epochs else rung
        tuning.rungs.append([planned(v, seed, c, folder.tune_run(v.name, grid_name(c), short), short) for c in alive])
        if k == len(rung_epochs) - 1:
            tuning.planned_all = True
        elif not all(r.status.finished for r in tuning.rungs[-1]):
            break  # the next rung's candidates are not known yet
        else:
            assert halving is not None  # more than one rung
            best = {str(r.tuned) for r in ranked(tuning.rungs[-1])[: halving.kept(len(alive))]}
            alive = [c for c in alive if str(c) in best]  # in the file's order
            if not alive:  # no candidate of this rung completed: nothing goes on
                tuning.planned_all = True
                break
    tuning.choose()
    return tuning


def adopt_chosen(plan: Plan, runs: list[PlannedRun]) -> list[PlannedRun]:
    """The first seed of a tuned variant is the same run as its chosen tuning run (same spec, recipe and seed):
    each such run among ``runs`` that has not started is made a copy of that finished run instead of training it
    again, and sent to its trackers as a run of its own. Returns the runs adopted (their status is the copied
    record's)."""
    adopted = []
    first = plan.ablation.seeds[0]
    for tuning in plan.tuning:
        last = tuning.rungs[-1] if tuning.rungs else []
        source = next((r for r in last if tuning.chosen is not None and r.tuned == tuning.chosen), None)
        for run in runs:
            if (
                source is not None
                and source.status == RunStatus.completed
                and (run.variant, run.seed, run.status) == (tuning.variant, first, RunStatus.new)
                and run_identity(run.request) == run_identity(source.request)
                and run.folder.adopt(source.folder)
            ):
                settle_copy(run)
                adopted.append(run)
    return adopted


def settle_copy(run: PlannedRun) -> None:
    """A run just made a copy of a finished one: its status read from the copy, which is sent to the run's trackers
    as a run of its own (a warning, and the copy stands, where they cannot take it)."""
    run.status = run_status(run)
    try:
        replay(run.recipe.get("log") or [], run.folder, Naming.from_request(run.request, run.folder.path))
    except IbenchError as e:
        print(f"warning: {run.variant} seed {run.seed} (a copy) not sent to the trackers: {e}", file=sys.stderr)


def will_run(run: PlannedRun, *, retry_failed: bool, rerun_changed: bool) -> bool:
    """Whether a backend would start ``run`` (new or partial; failed with ``retry_failed``; changed with
    ``rerun_changed``; never one that waits on its tuning)."""
    starts = [RunStatus.new, RunStatus.partial]
    starts += list(RunStatus.unsuccessful()) if retry_failed else []
    starts += [RunStatus.changed] if rerun_changed else []
    return not run.note and run.status in starts


def seed_order(runs: list[PlannedRun]) -> list[PlannedRun]:
    """``runs`` in the order to start them: seed by seed (every variant's first seed, then every variant's second,
    ...), the plan's order within a seed, so that a study stopped part-way has whole seeds to pair."""
    seeds = list(dict.fromkeys(r.seed for r in runs))
    return sorted(runs, key=lambda r: seeds.index(r.seed))


def check_data(plan: Plan, runs: list[PlannedRun]) -> None:
    """Load each data set ``runs`` will train on, once per distinct setting, as their workers will (at the
    training image size): a missing, offline or mismatched data set is one error before any run starts rather than
    a failure per run. Give it only the runs that will start: a finished grid needs no data to rebuild results.csv."""
    from inception_bench.run.data import recipe_data

    seen: set[tuple[Any, ...]] = set()
    for run in runs:
        recipe, spec = Recipe.model_validate(run.recipe), run.spec
        if spec is None:  # a run made by hand, without its spec: nothing to check it against
            continue
        if recipe.image_size is not None:
            spec = spec.model_copy(update={"input_size": recipe.image_size})
        key = (recipe.data, recipe.data_root, recipe.recipe, spec.input_size, spec.num_classes)
        if key in seen:
            continue
        seen.add(key)
        try:
            recipe_data(recipe, spec)
        except Exception as e:  # a bad archive or image raises what its reader raises: one line all the same
            why = str(e) if isinstance(e, IbenchError) else one_line(e, 200)
            raise IbenchError(f"{plan.path}: variant {run.variant}: {why} (checked before any run started)") from None


def select_shard(runs: list[T], shard: str | None) -> list[T]:
    """``shard`` ``i/n`` (1 <= i <= n): every n-th run of the plan's fixed order, starting at the i-th."""
    if shard is None:
        return runs
    m = re.fullmatch(r"(\d+)/(\d+)", shard.strip())
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise FieldError("shard", "use i/n with 1 <= i <= n, e.g. 1/4", shard)
    i, n = int(m.group(1)), int(m.group(2))
    return runs[i - 1 :: n]


def write_results(plan: Plan) -> Path:
    """``results.csv`` (one row per run) and ``ablation.json`` (what the grid is, for ``ibench report``)."""
    plan.out.write_results([r.row() for r in plan.runs], plan.axes)
    for tuning in plan.tuning:  # the choice as the runs stand now: a backend writes these files as each run ends
        tuning.choose()
    if plan.tuning:
        plan.out.write_tuning([row for t in plan.tuning for row in t.rows()])
    plan.out.write_meta(
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
            "tune": plan.ablation.tune,
            "halving": plan.ablation.halving.model_dump() if plan.ablation.halving is not None else None,
            "tuned": {t.variant: t.chosen for t in plan.tuning},
        }
    )
    return plan.out.results_path


def plan_table(plan: Plan, runs: list[PlannedRun], copies: Collection[Path] = ()) -> Any:
    """The dry run's rich table: one row per variant with its params and MACs and its runs' statuses (``copy`` for a
    run whose folder is in ``copies``: another ablation has finished the same run, ``--reuse``)."""
    from rich.table import Table

    from inception_bench.count import totals

    table = Table("variant", "seeds", "params", "MACs", "status", "overrides", title=f"plan -> {plan.out.path}")
    for variant in dict.fromkeys(r.variant for r in runs):
        mine = [r for r in runs if r.variant == variant]
        assert mine[0].spec is not None  # planned runs carry their spec
        counted = totals(mine[0].spec)
        table.add_row(
            variant,
            ",".join(str(r.seed) for r in mine),
            f"{counted.params:,}",
            f"{counted.macs / 1e6:.1f}M",
            ", ".join(f"{r.seed}:{'copy' if r.folder.path in copies else r.status}" for r in mine),
            " ".join(f"{k}={v}" for k, v in mine[0].overrides.items()),
        )
    return table


def describe(plan: Plan) -> str:
    text = (
        f"{display_path(plan.path)}: {len(plan.runs)} runs ({plan.ablation.data}, base {display_path(plan.spec_path)})"
    )
    if plan.tuning:
        tune = ", ".join(f"{k} in {v}" for k, v in plan.ablation.tune.items())
        if plan.ablation.halving is not None:
            epochs = "/".join(str(n) for n in plan.tuning[0].epochs) if plan.tuning else "?"
            tune += f"; successive halving, rungs of {epochs} epochs, keeping {plan.ablation.halving.keep:g}"
        done = sum(r.status.finished for r in plan.tuning_runs)
        planned = "" if all(t.planned_all for t in plan.tuning) else " planned so far"
        text += f", after {len(plan.tuning_runs)} tuning runs{planned} ({tune}; {done} finished)"
    return text
