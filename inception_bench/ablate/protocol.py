"""The ablation protocol: the tuning runs first, rung by rung (each rung's candidates are known once the rung before
has finished), then every seed at the values chosen; the first seed of a tuned variant is copied from its chosen
full-length tuning run instead of trained again. While some variants still tune, the slots their rung leaves free
run the seeds of the variants already tuned, so that one slow variant's last rung does not idle the machine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from inception_bench.ablate.plan import Plan, PlannedRun, adopt_chosen, seed_order, select_shard, will_run
from inception_bench.ablate.reuse import Reuse
from inception_bench.store import RunStatus


class Backend(Protocol):
    @property
    def slots(self) -> int | None: ...  # runs at once (None: not known before the runs start)

    def run(
        self, plan: Plan, runs: list[PlannedRun], *, retry_failed: bool, rerun_changed: bool, progress: str
    ) -> Summary: ...


class Summary(Protocol):
    failed: list[tuple[str, int, str, str]]
    changed: list[tuple[str, int]]


@dataclass
class TuningOutcome:
    """What the tuning runs of one ``ibench ablate`` did: the plan after them, the failures (variant, seed, status,
    message), the runs whose recorded config differs from the file, the first seeds copied from them, and the runs
    copied from other ablations' folders (``--reuse``)."""

    plan: Plan
    failed: list[tuple[str, int, str, str]] = field(default_factory=list)
    changed: list[tuple[str, int]] = field(default_factory=list)
    adopted: list[PlannedRun] = field(default_factory=list)
    copied: list[PlannedRun] = field(default_factory=list)


def tuning_shard(plan: Plan, shard: str | None) -> list[PlannedRun]:
    """The tuning runs of shard ``i/n``: each candidate of each variant stays on one shard through every rung (its
    place among the first rung's runs picks the shard), so shards agree however far each has got."""
    if shard is None:
        return plan.tuning_runs
    first = [(t.variant, str(r.tuned)) for t in plan.tuning for r in t.rungs[0]]
    mine = set(select_shard(first, shard))
    return [r for t in plan.tuning for r in t.runs if (t.variant, str(r.tuned)) in mine]


def run_tuning(
    engine: Backend,
    replan: Callable[[], Plan],
    shard: str | None,
    *,
    retry_failed: bool,
    rerun_changed: bool,
    progress: str,
    reuse: Reuse | None = None,
) -> TuningOutcome:
    """Run the tuning runs of ``replan()``'s plan that are left, rung after rung, until none is left that can start
    (a later rung waits on other shards' runs), copying each chosen full-length run into its variant's first seed
    as soon as it is chosen. Where a rung has fewer runs than the engine's ``slots``, the free slots take new or
    partial seed runs of the variants whose tuning has finished and has nothing to redo (in :func:`seed_order`):
    one each while a later rung may wait on this one, every such seed when no variant has a rung left to plan.
    Not with ``retry_failed``: a retried candidate may change a choice, and a failed seed is retried once, after
    the tuning. A candidate that diverged or did not learn is an answer (that value does not train), not a failure
    to retry; a run is started at most once per call. With ``reuse``, a run (tuning or seed) that another ablation
    has finished is copied from there before anything is started in its place."""
    plan = replan()
    outcome = TuningOutcome(plan)
    tried: set[str] = set()

    def startable(runs: list[PlannedRun]) -> list[PlannedRun]:
        return [
            r
            for r in runs
            if str(r.folder.path) not in tried and will_run(r, retry_failed=retry_failed, rerun_changed=rerun_changed)
        ]

    while True:
        if reuse is not None and (copies := reuse.adopt(tuning_shard(plan, shard))):
            outcome.copied += copies  # the next rung, or the choice, may follow from them
            plan = replan()
            continue
        todo = startable([r for r in tuning_shard(plan, shard) if not r.status.judges_value])
        if not todo:
            break
        tuning = {r.variant for r in todo}  # variants with a tuning run to (re)do: their choice may still change
        settled = [r for r in select_shard(plan.runs, shard) if r.variant not in tuning]
        outcome.adopted += adopt_chosen(plan, settled)
        outcome.copied += reuse.adopt(settled) if reuse is not None else []
        free = 0 if retry_failed else max(0, (engine.slots or 0) - len(todo))
        last = all(t.planned_all for t in plan.tuning if not t.finished)  # no rung left to plan after these
        seeds = startable(seed_order(settled))  # a waiting run never starts
        seeds = seeds if last and free else seeds[:free]
        todo += seeds
        tried.update(str(r.folder.path) for r in todo)
        summary = engine.run(plan, todo, retry_failed=retry_failed, rerun_changed=rerun_changed, progress=progress)
        seeded = {(r.variant, r.seed) for r in seeds}  # of variants with no tuning run in this batch
        outcome.failed += [f for f in summary.failed if (f[0], f[1]) not in seeded]  # the seeds' are said at the end
        plan = replan()
    if not rerun_changed:  # left alone, and said
        outcome.changed = [(r.variant, r.seed) for r in tuning_shard(plan, shard) if r.status == RunStatus.changed]
    outcome.plan = plan
    outcome.adopted += adopt_chosen(plan, select_shard(plan.runs, shard))
    outcome.copied += reuse.adopt(select_shard(plan.runs, shard)) if reuse is not None else []
    return outcome
