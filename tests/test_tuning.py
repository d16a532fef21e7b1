"""Tuning with successive halving (``halving:``): which candidates each rung keeps, the rungs' lengths, the choice,
the cost, and an end-to-end run. The validation figures of the planning tests are written by hand, so the answer
of each rung is known by construction."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import SMALL, invoke_ablate, write_ablation
from typer.testing import CliRunner

from inception_bench.ablate import Reuse, plan_ablation, write_results
from inception_bench.ablate.protocol import run_tuning, tuning_shard
from inception_bench.ablate.tuning import Halving
from inception_bench.cli import app
from inception_bench.store import AblationFolder, RunRecord, RunStatus

RECIPE = {"epochs": 4, "batch_size": 64, "workers": 0, "device": "cpu", "schedule": "cosine"}
LRS = [0.1, 0.2, 0.3, 0.4]


def _ablation(tmp_path: Path, name: str = "h", **changes: object) -> Path:
    raw = {
        "name": name,
        "spec": str(SMALL),
        "data": "synthetic",
        "recipe": dict(RECIPE),
        "seeds": [0, 1],
        "set": {"width_mult": 0.125},
        "variants": [{"name": "v"}],
        "tune": {"lr": LRS},
        "halving": {"rungs": [0.25, 0.5, 1.0], "keep": 0.5},
    }
    return write_ablation(tmp_path, {**raw, **changes})


def _finish(plan, scores: dict[float, float | None]) -> None:
    """Record the last planned rung's runs as finished: ``None`` a diverged run, else completed at that val top-1."""
    for run in plan.tuning[0].rungs[-1]:
        score = scores[run.tuned["lr"]]
        run.folder.create()
        run.folder.write_request(run.request)
        status = RunStatus.diverged if score is None else RunStatus.completed
        run.folder.write_record(RunRecord(status=status, val_top1=score))


def test_each_rung_keeps_the_best_half_and_the_last_rung_chooses(tmp_path):
    path, out = _ablation(tmp_path), tmp_path / "out"
    plan = plan_ablation(path, out)
    rung = plan.tuning[0].rungs
    # rung 1: every candidate, a complete schedule of 0.25 x 4 = 1 epoch, in its own folder
    assert len(rung) == 1 and [r.tuned["lr"] for r in rung[0]] == LRS
    assert [r.recipe["epochs"] for r in rung[0]] == [1, 1, 1, 1]
    assert [r.folder.path.name for r in rung[0]] == [f"lr-{lr}_epochs-1" for lr in LRS]
    assert [r.status for r in plan.runs] == ["waiting", "waiting"]
    # 0.2 and 0.3 are the best half of rung 1; the full grid's choice on these figures would be 0.2
    _finish(plan, {0.1: 0.5, 0.2: 0.9, 0.3: 0.7, 0.4: None})
    plan = plan_ablation(path, out)
    rung = plan.tuning[0].rungs
    assert [r.tuned["lr"] for r in rung[1]] == [0.2, 0.3] and [r.recipe["epochs"] for r in rung[1]] == [2, 2]
    _finish(plan, {0.2: 0.6, 0.3: 0.8})
    plan = plan_ablation(path, out)
    rung = plan.tuning[0].rungs
    # rung 3 is the full run (4 epochs, the seeds' own folder name scheme: no _epochs suffix): 0.3 alone
    assert [r.tuned["lr"] for r in rung[2]] == [0.3] and rung[2][0].recipe["epochs"] == 4
    assert rung[2][0].folder.path.name == "lr-0.3" and plan.tuning[0].chosen is None
    _finish(plan, {0.3: 0.75})
    plan = plan_ablation(path, out)
    assert plan.tuning[0].chosen == {"lr": 0.3}
    assert [(r.status, r.tuned) for r in plan.runs] == [("new", {"lr": 0.3})] * 2
    # the cost: 4 x 1 + 2 x 2 + 4 = 12 epochs against the grid's 4 x 4 = 16 (the survivor's full run, the first
    # seed's in both, included)
    assert sum(r.recipe["epochs"] for r in plan.tuning_runs) == 12 == 0.75 * len(LRS) * RECIPE["epochs"]
    rows = plan.tuning[0].rows()
    table = [(r["tune:lr"], r["rung"], r["epochs"], r["kept"], r["chosen"]) for r in rows]
    assert table == [
        (0.1, 1, 1, False, False),
        (0.2, 1, 1, True, False),
        (0.3, 1, 1, True, False),
        (0.4, 1, 1, False, False),
        (0.2, 2, 2, False, False),
        (0.3, 2, 2, True, False),
        (0.3, 3, 4, False, True),
    ]
    assert [r["status"] for r in rows][:4] == ["completed", "completed", "completed", "diverged"]


def test_one_short_rung_keeping_the_best_alone_costs_half_the_grid(tmp_path):
    path, out = _ablation(tmp_path, halving={"rungs": [0.25, 1.0], "keep": 0.25}), tmp_path / "out"
    _finish(plan_ablation(path, out), {0.1: 0.5, 0.2: 0.9, 0.3: 0.7, 0.4: 0.6})
    plan = plan_ablation(path, out)
    assert [(r.tuned["lr"], r.recipe["epochs"]) for r in plan.tuning[0].rungs[1]] == [(0.2, 4)]
    # 4 x 1 + 4 = 8 epochs: half the grid's 4 x 4, the survivor's full run (the first seed's) included
    assert sum(r.recipe["epochs"] for r in plan.tuning_runs) == 8 == len(LRS) * RECIPE["epochs"] / 2


def test_a_rung_where_nothing_completed_fails_the_seeds(tmp_path):
    path, out = _ablation(tmp_path), tmp_path / "out"
    _finish(plan_ablation(path, out), dict.fromkeys(LRS))
    plan = plan_ablation(path, out)
    assert len(plan.tuning[0].rungs) == 1 and plan.tuning[0].finished and plan.tuning[0].chosen is None
    assert [r.status for r in plan.runs] == ["failed", "failed"]


def test_keep_rounds_up_and_shards_keep_each_candidate(tmp_path):
    # keep 0.5 of 3 is 2 (rounded up), of 1 is 1; rung lengths round half up
    assert [Halving(rungs=[1.0], keep=0.5).kept(n) for n in (1, 2, 3, 5)] == [1, 1, 2, 3]
    assert Halving(rungs=[0.25, 0.5, 1.0]).rung_epochs(6) == [2, 3, 6]  # 1.5 -> 2
    path, out = _ablation(tmp_path), tmp_path / "out"
    plan = plan_ablation(path, out)
    halves = [[r.tuned["lr"] for r in tuning_shard(plan, f"{i}/2")] for i in (1, 2)]
    assert halves == [[0.1, 0.3], [0.2, 0.4]]
    _finish(plan, {0.1: 0.5, 0.2: 0.9, 0.3: 0.7, 0.4: 0.1})
    plan = plan_ablation(path, out)
    # in rung 2 each survivor stays on the shard it had: 0.3 on 1/2, 0.2 on 2/2
    assert [r.tuned["lr"] for r in tuning_shard(plan, "1/2")] == [0.1, 0.3, 0.3]
    assert [r.tuned["lr"] for r in tuning_shard(plan, "2/2")] == [0.2, 0.4, 0.2]


class _Recorder:
    """A backend that finishes each run it is given at once (val top-1 = its lr) and records each call's runs."""

    slots = 3

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str]]] = []

    def run(self, plan, runs, **_: object):
        self.calls.append([(r.variant, r.folder.path.name) for r in runs])
        for run in runs:
            run.folder.create()
            run.folder.write_request(run.request)
            run.folder.write_record(RunRecord(status=RunStatus.completed, val_top1=run.tuned["lr"]))
        return type("Summary", (), {"failed": [], "changed": []})()


def test_tuning_csv_written_as_the_last_rung_ends_names_the_choice(tmp_path):
    # a backend rewrites tuning.csv from the plan it was given as each run ends: the last rung's run finishing
    # settles the choice there and then, not only at the next planning (a study committed between the two said
    # "none completed" beside its chosen run's figure)
    path, out = _ablation(tmp_path, seeds=[0]), tmp_path / "out"
    engine = _Recorder()
    for rung in range(3):
        plan = plan_ablation(path, out)
        engine.run(plan, plan.tuning[0].rungs[rung])
    last = plan.tuning[0].rungs[2]
    assert [r.tuned["lr"] for r in last] == [0.4]  # the best half of the best half, by construction
    for run in last:
        run.status = RunStatus.completed  # as the local backend sets it when the worker ends
    write_results(plan)
    tuning = pd.read_csv(out / "tuning.csv")
    assert tuning[tuning["chosen"]][["tune:lr", "rung"]].values.tolist() == [[0.4, 3]]


def test_free_slots_take_the_seeds_of_variants_already_tuned(tmp_path):
    # a tuned in full, b at rung 2 of 3; 3 slots. b's 2 runs leave 1 slot: one seed of a (seed 0 is a's chosen run,
    # copied), since b's rung 3 waits on them; then b's last rung leaves 2, and with no rung after it every seed of
    # a left starts beside it; b's seeds wait for the seed phase
    variants = [{"name": "a"}, {"name": "b", "set": {"width_mult": 0.25}}]
    path, out = _ablation(tmp_path, variants=variants, seeds=[0, 1, 2, 3, 4]), tmp_path / "out"
    engine = _Recorder()
    plan = plan_ablation(path, out)
    engine.run(plan, [r for t in plan.tuning for r in t.rungs[0]])  # rung 1 of both
    plan = plan_ablation(path, out)
    engine.run(plan, plan.tuning[0].rungs[1])
    plan = plan_ablation(path, out)
    engine.run(plan, plan.tuning[0].rungs[2])  # a's last rung: lr 0.4 chosen (the best by construction)
    engine.calls.clear()
    outcome = run_tuning(
        engine, lambda: plan_ablation(path, out), None, retry_failed=False, rerun_changed=False, progress="none"
    )
    assert engine.calls == [
        [("b", "lr-0.3_epochs-2"), ("b", "lr-0.4_epochs-2"), ("a", "seed-1")],
        [("b", "lr-0.4"), ("a", "seed-2"), ("a", "seed-3"), ("a", "seed-4")],
    ]
    assert sorted((r.variant, r.seed) for r in outcome.adopted) == [("a", 0), ("b", 0)]
    statuses = {(r.variant, r.seed): r.status for r in outcome.plan.runs}
    assert statuses == {**{("a", s): "completed" for s in range(5)}, ("b", 0): "completed",
                        **{("b", s): "new" for s in range(1, 5)}}  # fmt: skip
    assert all(r.tuned == {"lr": 0.4} for r in outcome.plan.runs)


def test_retrying_a_failed_candidate_starts_no_seed_beside_it(tmp_path):
    # a tuned in full but its lr 0.1 crashed at rung 1; with --retry-failed that run is redone, and its choice could
    # change with it: neither a's seeds nor its first seed's copy may come before, and no seed fills a slot (a
    # failed seed is retried once, after the tuning)
    variants = [{"name": "a"}, {"name": "b", "set": {"width_mult": 0.25}}]
    path, out = _ablation(tmp_path, variants=variants, seeds=[0, 1, 2]), tmp_path / "out"
    engine = _Recorder()
    plan = plan_ablation(path, out)
    engine.run(plan, [r for t in plan.tuning for r in t.rungs[0]])
    crashed = plan.tuning[0].rungs[0][0].folder
    crashed.write_record(RunRecord(status=RunStatus.failed, message="killed"))
    for rung in (1, 2):
        plan = plan_ablation(path, out)
        engine.run(plan, plan.tuning[0].rungs[rung])
    engine.calls.clear()
    first_seed = out / "a" / "seed-0"
    copied_before: list[bool] = []
    run = engine.run
    engine.run = lambda plan, runs, **kw: (copied_before.append(first_seed.exists()), run(plan, runs, **kw))[1]
    outcome = run_tuning(
        engine, lambda: plan_ablation(path, out), None, retry_failed=True, rerun_changed=False, progress="none"
    )
    assert engine.calls == [
        [("a", "lr-0.1_epochs-1"), ("b", "lr-0.3_epochs-2"), ("b", "lr-0.4_epochs-2")],
        [("b", "lr-0.4")],
    ]
    assert copied_before == [False, True]  # a's choice stood after the retry (0.1 scored 0.1): copied then
    assert sorted((r.variant, r.seed) for r in outcome.adopted) == [("a", 0), ("b", 0)]


@pytest.mark.parametrize(
    ("halving", "message"),
    [
        ({"rungs": [0.5, 0.25]}, "h.yaml: halving.rungs: must increase"),
        ({"rungs": [0.5, 1.5]}, "halving.rungs: each is a share of the epochs, above 0 and at most 1"),
        ({"rungs": [0.5, 1.0], "keep": 1.0}, "halving.keep: Input should be less than 1"),
        ({"rungs": [0.2, 0.3, 1.0]}, "variant v: halving.rungs: 0.2 and 0.3 of 4 epochs are both 1 epoch(s)"),
        ({"rungs": [0.5, 1.0], "every": 2}, "halving.every"),
    ],
)
def test_bad_halving_is_one_line_naming_the_field(tmp_path, halving, message):
    result = invoke_ablate(_ablation(tmp_path, halving=halving), "--out", tmp_path / "o", "--dry-run")
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


def test_halving_needs_tune(tmp_path):
    result = invoke_ablate(_ablation(tmp_path, tune={}), "--dry-run")
    assert result.exit_code == 2 and "halving: halves the candidates of tune:" in result.stderr


@pytest.mark.slow
def test_halving_end_to_end_trains_each_rung_and_copies_the_survivor(tmp_path):
    recipe = {**RECIPE, "epochs": 2, "precision": "fp32"}
    path = _ablation(tmp_path, recipe=recipe, seeds=[0], tune={"lr": [1e-7, 0.2]}, halving={"rungs": [0.5, 1.0]})
    out = tmp_path / "out"
    result = invoke_ablate(path, "--out", out)
    assert result.exit_code == 0, result.output
    tuning = pd.read_csv(out / "tuning.csv")
    assert list(tuning["rung"]) == [1, 1, 2] and list(tuning["epochs"]) == [1, 1, 2]
    for row in tuning.itertuples():  # each rung's run trained its own schedule: as many epochs as its rung says
        metrics = (out / row.run_dir / "metrics.jsonl").read_text().splitlines()
        assert len(metrics) == row.epochs
        assert json.loads((out / row.run_dir / "config.json").read_text())["recipe"]["epochs"] == row.epochs
    first = tuning[tuning["rung"] == 1]
    best = list(first["tune:lr"])[int(first["val_top1"].fillna(-1).to_numpy().argmax())]
    assert list(tuning[tuning["rung"] == 2]["tune:lr"]) == [best]
    assert "1 first-seed runs are their variant's chosen tuning run (copied)" in result.stderr
    seed = pd.read_csv(out / "results.csv").iloc[0]
    assert seed["tuned:lr"] == best and seed["status"] == "completed"
    # the report shows each candidate's figure at every rung it reached, and where halving stopped the other
    report = CliRunner().invoke(app, ["report", str(out), "--out", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    text = (tmp_path / "report" / "report.md").read_text()
    # the rungs' lengths as trained: 0.5 and 1.0 of 2 epochs
    assert "a complete schedule of 1 epoch, then at each rung the best 0.5 of them a longer one: 2 epochs (" in text
    figures = {lr: list(100 * tuning[tuning["tune:lr"] == lr]["val_top1"]) for lr in (1e-7, 0.2)}
    loser = 1e-7 if best == 0.2 else 0.2
    assert f"| {figures[loser][0]:.1f} (stopped) |" in text
    assert f"| {figures[best][0]:.1f} > {figures[best][1]:.1f} * |" in text


def _run_in_full(path: Path, out: Path) -> _Recorder:
    """Every tuning run and seed of the ablation at ``path``, finished by a recorder (quickly), with its results.csv
    and ablation.json: another study's folder to reuse. Returns the recorder."""
    engine = _Recorder()
    run_tuning(engine, lambda: plan_ablation(path, out), None, retry_failed=False, rerun_changed=False,
               progress="none")  # fmt: skip
    plan = plan_ablation(path, out)
    engine.run(plan, [r for r in plan.runs if r.status == "new"])
    write_results(plan)
    return engine


def test_reuse_copies_the_runs_another_ablation_finished_and_trains_the_rest(tmp_path):
    # ablation a: variant base, tuned (one short rung keeping the best: lr 0.4, by the recorder's construction),
    # seeds 0 and 1, all finished. Ablation b has the same variant under another name, plus seed 2 and a variant of
    # its own. With a's folder to reuse, base's tuning runs and seed 1 are copies of a's (hard links naming their
    # source), its seed 0 the copy of its own chosen run; only seed 2 and the new variant train
    halving = {"rungs": [0.25, 1.0], "keep": 0.25}
    path_a, out_a = _ablation(tmp_path, name="a", halving=halving, variants=[{"name": "base"}]), tmp_path / "out-a"
    engine = _run_in_full(path_a, out_a)
    assert [r.status for r in plan_ablation(path_a, out_a).runs] == ["completed"] * 2

    variants = [{"name": "baseline"}, {"name": "wide", "set": {"width_mult": 0.25}}]
    path_b, out_b = _ablation(tmp_path, name="b", halving=halving, variants=variants, seeds=[0, 1, 2]), tmp_path / "b"
    engine.calls.clear()
    reuse = Reuse([out_a], AblationFolder(out_b), "b")
    outcome = run_tuning(engine, lambda: plan_ablation(path_b, out_b), None, retry_failed=False,
                         rerun_changed=False, progress="none", reuse=reuse)  # fmt: skip
    plan_b = outcome.plan
    copied = outcome.copied + reuse.adopt(plan_b.runs)  # as `ibench ablate` does before the seeds
    engine.run(plan_b, [r for r in plan_b.runs if r.status == "new"])
    trained = [run for call in engine.calls for run in call]
    assert [name for variant, name in trained if variant == "baseline"] == ["seed-2"]
    assert sorted(name for variant, name in trained if variant == "wide") == sorted(
        [f"lr-{lr}_epochs-1" for lr in LRS] + ["lr-0.4", "seed-1", "seed-2"]
    )
    tune_names = [f"lr-{lr}_epochs-1" for lr in LRS] + ["lr-0.4"]
    assert sorted(r.folder.path.name for r in copied) == sorted(tune_names + ["seed-1"])
    for name in tune_names:
        mine, theirs = out_b / "tune" / "baseline" / name, out_a / "tune" / "base" / name
        origin = json.loads((mine / "copied-from.json").read_text())
        # lr 0.4's source may be a's tune/base/lr-0.4 or a's base/seed-0, its copy: the same files
        assert origin["ablation"] == "a" and os.path.samefile(
            mine / origin["from"] / "final.json", theirs / "final.json"
        )
        assert os.path.samefile(mine / "final.json", theirs / "final.json")
    origin = json.loads((out_b / "baseline" / "seed-1" / "copied-from.json").read_text())
    assert (out_b / "baseline" / "seed-1" / origin["from"]).resolve() == (out_a / "base" / "seed-1").resolve()
    # seed 0 is b's own chosen run's copy, which names no source
    assert (out_b / "baseline" / "seed-0" / "final.json").exists()
    assert not (out_b / "baseline" / "seed-0" / "copied-from.json").exists()
    final = plan_ablation(path_b, out_b)
    assert all(r.status == "completed" and r.tuned == {"lr": 0.4} for r in final.runs)


def _hand_made(tmp_path: Path, name: str, raw: dict, statuses: list[RunStatus | None]):
    """The plan of ablation ``name`` (``raw`` without its name) with its seeds' runs written by hand: a record of each
    status, or ``None`` a partial run (its request and a checkpoint, no record); its results.csv and ablation.json."""
    plan = plan_ablation(write_ablation(tmp_path, {"name": name, **raw}), tmp_path / f"out-{name}")
    for run, status in zip(plan.runs, statuses, strict=True):
        run.folder.create()
        run.folder.write_request(run.request)
        if status is None:
            run.folder.checkpoint_path.write_bytes(b"weights")
        else:
            run.folder.write_record(RunRecord(status=status, val_top1=0.5))
    write_results(plan)
    return plan


RAW = {"spec": str(SMALL), "data": "synthetic", "recipe": {**RECIPE, "lr": 0.1}, "seeds": [0, 1, 2],
       "set": {"width_mult": 0.125}, "variants": [{"name": "v"}]}  # fmt: skip


def test_reuse_copies_only_the_same_run_that_ended_by_itself(tmp_path):
    # a (no tuning, lr 0.1): seed 0 completed, seed 1 failed (a crash, not an answer), seed 2 partial. b is the same
    # runs: seed 0 is copied, seeds 1 and 2 are not; c differs in its recipe only (label smoothing), d in its
    # not-learning guard only (it decides where a finished run ended): nothing is copied into them
    _hand_made(tmp_path, "a", RAW, [RunStatus.completed, RunStatus.failed, None])
    plan_b = plan_ablation(write_ablation(tmp_path, {"name": "b", **RAW}), tmp_path / "out-b")
    copied = Reuse([tmp_path / "out-a"], plan_b.out, "b").adopt(plan_b.runs)
    assert [r.seed for r in copied] == [0] and [r.status for r in plan_b.runs] == ["completed", "new", "new"]
    for name, change in (("c", {"label_smoothing": 0.1}), ("d", {"not_learning": "off"})):
        plan = plan_ablation(write_ablation(tmp_path, {**RAW, "name": name, "recipe": {**RAW["recipe"], **change}}),
                             tmp_path / f"out-{name}")  # fmt: skip
        assert Reuse([tmp_path / "out-a"], plan.out, name).adopt(plan.runs) == []
        assert not (tmp_path / f"out-{name}").exists()
    # retried (a copy that diverged, say, with --retry-failed), the copy is trained here: no longer someone else's
    copy = plan_b.runs[0].folder
    copy.clear_record()
    assert (
        not (copy.path / "copied-from.json").exists() and (tmp_path / "out-a" / "v" / "seed-0" / "final.json").exists()
    )


def test_reuse_never_brings_back_a_run_deleted_to_redo_it_nor_fills_a_waiting_seed(tmp_path):
    # b copied a's seed 0; a's seed 0 is then deleted (the way to redo a run): with b to reuse, a trains it again,
    # it does not take b's copy of its own old run
    plan_a = _hand_made(tmp_path, "a", RAW, [RunStatus.completed] * 3)
    plan_b = plan_ablation(write_ablation(tmp_path, {"name": "b", **RAW}), tmp_path / "out-b")
    write_results(plan_b)
    assert len(Reuse([tmp_path / "out-a"], plan_b.out, "b").adopt(plan_b.runs)) == 3
    shutil.rmtree(plan_a.runs[0].folder.path)
    plan_a = plan_ablation(tmp_path / "a.yaml", tmp_path / "out-a")
    assert Reuse([tmp_path / "out-b"], plan_a.out, "a").adopt(plan_a.runs) == []
    assert plan_a.runs[0].status == "new"
    # e tunes lr over [0.1, 0.2]: its seeds wait, planned at the first candidate until one is chosen, so a seed run
    # of a is the same request as e's waiting seed; only e's tuning run at 0.1 (seed 0, every epoch) is copied
    plan_e = plan_ablation(write_ablation(tmp_path, {**RAW, "name": "e", "tune": {"lr": [0.1, 0.2]}}),
                           tmp_path / "out-e")  # fmt: skip
    reuse = Reuse([tmp_path / "out-b"], plan_e.out, "e")
    assert [r.status for r in plan_e.runs] == ["waiting"] * 3 and reuse.adopt(plan_e.runs) == []
    assert [r.folder.path.name for r in reuse.adopt(plan_e.tuning_runs)] == ["lr-0.1"]


def test_ablate_reuse_copies_a_whole_tuned_study_that_another_has_run(tmp_path):
    # the same ablation under two names, a run in full (by a recorder, so quickly); `ibench ablate b --reuse a`
    # trains nothing: every tuning run and seed is a copy
    halving = {"rungs": [0.25, 1.0], "keep": 0.25}
    path_a, out_a = _ablation(tmp_path, name="a", halving=halving), tmp_path / "out-a"
    _run_in_full(path_a, out_a)
    path_b = _ablation(tmp_path, name="b", halving=halving)
    dry = invoke_ablate(path_b, "--out", tmp_path / "out-b", "--reuse", out_a, "--dry-run")
    # the first rung's 4 candidates will be copies (the later rung and the seeds are not planned yet)
    assert dry.exit_code == 0 and dry.stdout.count("0:copy") == 4, dry.output
    assert not any((tmp_path / "out-b").glob("**/final.json"))
    result = invoke_ablate(path_b, "--out", tmp_path / "out-b", "--reuse", out_a, "--progress", "plain")
    assert result.exit_code == 0, result.output
    assert "2/2 runs completed (0 run now" in result.stdout
    assert "6 runs copied from --reuse folders" in result.stderr  # 4 + 1 tuning runs and seed 1 (seed 0: its own)
    results = pd.read_csv(tmp_path / "out-b" / "results.csv")
    assert list(results["status"]) == ["completed"] * 2 and list(results["tuned:lr"]) == [0.4] * 2


def test_reuse_of_a_folder_that_is_no_ablations_is_one_error_naming_the_option(tmp_path):
    path = _ablation(tmp_path)
    (tmp_path / "plain").mkdir()
    for folder, why in ((tmp_path / "plain", "is not an ablation folder"), (tmp_path / "none", "is not an ablation")):
        result = CliRunner().invoke(app, ["ablate", str(path), "--out", str(tmp_path / "o"), "--reuse", str(folder)])
        assert result.exit_code == 2 and f"--reuse {folder}: {why}" in result.output, result.output
        assert "Traceback" not in result.output
    write_results(plan_ablation(path, tmp_path / "o"))
    result = CliRunner().invoke(
        app, ["ablate", str(path), "--out", str(tmp_path / "o"), "--reuse", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "is this ablation's own output folder" in result.output, result.output
