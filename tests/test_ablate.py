"""``ibench ablate``: grids run end to end, resume after kill -9, isolate failures, refuse bad files."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import ROOT, SMALL, invoke_ablate, reference_counts, write_ablation
from typer.testing import CliRunner

from inception_bench.ablate import PlannedRun, plan_ablation, select_shard
from inception_bench.ablate.local import launch
from inception_bench.cli import app
from inception_bench.data import DATA_NAMES, load_data
from inception_bench.errors import IbenchError
from inception_bench.models import build_model
from inception_bench.run.checkpoint import load_checkpoint, model_from_checkpoint
from inception_bench.spec import load_spec
from inception_bench.store import RunFolder, RunRecord, RunStatus

runner = CliRunner()
RECIPE = {"epochs": 2, "batch_size": 64, "workers": 0, "device": "cpu", "schedule": "cosine"}


def _ablation(tmp_path, name="t", **changes):
    raw = {
        "name": name,
        "spec": str(SMALL),
        "data": "synthetic",
        "recipe": dict(RECIPE),
        "seeds": [0],
        "set": {"width_mult": 0.125},
        "grid": {"module": ["reduced", "naive"]},
        "variants": [{"name": "diverge", "recipe": {"lr": 1.0e12}}],
    }
    return write_ablation(tmp_path, {**raw, **changes})


_ablate = invoke_ablate


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("abl")
    path, out = _ablation(tmp), tmp / "out"
    result = _ablate(path, "--out", out)
    return path, out, result


def test_grid_end_to_end(finished):
    path, out, result = finished
    assert result.exit_code == 1  # the diverging variant is a failure to report ...
    assert "2/3 runs completed" in result.stdout and "diverged: diverge seed 0" in result.stderr
    frame = pd.read_csv(out / "results.csv")
    assert list(frame.columns[:14]) == [
        "variant",
        "seed",
        "status",
        "val_top1",
        "val_top5",
        "test_top1",
        "test_top5",
        "weights",
        "params",
        "ops",
        "train_images_per_sec",
        "wall_seconds",
        "epochs",
        "error",
    ]
    assert "module" in frame.columns  # one column per varied axis
    rows = {r.variant: r for r in frame.itertuples()}
    assert set(rows) == {"module-reduced", "module-naive", "diverge"}
    assert rows["module-reduced"].status == rows["module-naive"].status == "completed"  # ... the rest go on
    assert rows["diverge"].status == "diverged" and "diverged" in rows["diverge"].error
    weights, macs, _ = reference_counts(
        build_model(load_spec(SMALL, {"width_mult": 0.125, "module": "naive"}).spec), 32
    )
    assert rows["module-naive"].params == weights and rows["module-naive"].ops == macs
    run = out / "module-naive" / "seed-0"
    assert {"config.json", "metrics.jsonl", "checkpoint.pt", "final.json", "request.json"} <= {
        p.name for p in run.iterdir()
    }


def test_rerun_skips_finished_and_retries_only_when_asked(finished):
    path, out, _ = finished
    finals = {p: p.stat().st_mtime_ns for p in out.glob("*/seed-0/final.json")}
    result = _ablate(path, "--out", out)
    assert "(0 run now" in result.stdout
    assert {p: p.stat().st_mtime_ns for p in finals} == finals  # nothing redone, files untouched
    result = _ablate(path, "--out", out, "--retry-failed")
    assert "(1 run now" in result.stdout
    diverge = out / "diverge" / "seed-0" / "final.json"
    assert diverge.stat().st_mtime_ns != finals[diverge]
    assert all(p.stat().st_mtime_ns == t for p, t in finals.items() if p != diverge)


def test_changed_ablation_is_reported_not_mixed(finished, tmp_path):
    path, out, _ = finished
    raw = yaml.safe_load(path.read_text())
    raw["recipe"]["epochs"] = 3
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(raw))
    result = _ablate(changed, "--out", out, "--dry-run")
    assert result.exit_code == 0 and "changed" in result.stdout
    before = (out / "module-reduced" / "seed-0" / "final.json").read_text()
    result = _ablate(changed, "--out", out)
    assert result.exit_code == 1 and "changed: module-reduced seed 0" in result.stderr
    assert (out / "module-reduced" / "seed-0" / "final.json").read_text() == before
    assert set(pd.read_csv(out / "results.csv").status) == {"changed"}


@pytest.mark.slow
def test_kill_minus_nine_then_resume(tmp_path):
    path = _ablation(
        tmp_path,
        name="k",
        recipe={**RECIPE, "epochs": 4},
        variants=[],
        grid={"module": ["reduced", "naive"], "aux.enabled": [True]},
    )
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "inception_bench", "ablate", str(path), "--out", str(out)]
    log = open(tmp_path / "ablate.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=log, stderr=log)
    first = out / "module-reduced_aux.enabled-on" / "seed-0"
    second = out / "module-naive_aux.enabled-on" / "seed-0"
    # a generous deadline: on a loaded 2-core machine the first run alone can take minutes
    deadline = time.time() + 600
    # the second run's first epoch is done: its checkpoint, then its metrics line, are written
    while time.time() < deadline and proc.poll() is None and not RunFolder(second).read_metrics():
        time.sleep(0.2)
    reached = bool(RunFolder(second).read_metrics())
    os.kill(proc.pid, signal.SIGKILL)  # the driver alone, mid-run (kill -9, a scheduler's stop, out of memory)
    proc.wait()
    # its worker ends with it (Linux; elsewhere it is ended with the group below) instead of training on unseen
    gone = time.time() + 60
    while sys.platform.startswith("linux") and time.time() < gone and _processes_naming(second):
        time.sleep(0.2)
    orphans = _processes_naming(second)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    assert reached, "the second run wrote no epoch before the deadline (or the ablation ended); see ablate.log"
    assert not orphans or not sys.platform.startswith("linux"), f"the worker outlived its driver: {orphans}"
    assert (first / "final.json").exists() and (second / "checkpoint.pt").exists()
    assert not (second / "final.json").exists()
    first_final = (first / "final.json").stat().st_mtime_ns
    before = (second / "metrics.jsonl").read_text().splitlines()
    epochs_done = len(before)
    assert 1 <= epochs_done < 4
    result = _ablate(path, "--out", out)
    assert result.exit_code == 0, result.output
    assert (first / "final.json").stat().st_mtime_ns == first_final  # finished run not redone
    metrics = [json.loads(line) for line in (second / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4]
    # resumed, not restarted: the epochs finished before the kill keep their records (timings included)
    assert (second / "metrics.jsonl").read_text().splitlines()[:epochs_done] == before
    assert set(pd.read_csv(out / "results.csv").status) == {"completed"}


def test_rerun_changed_redoes_the_changed_runs_from_scratch(finished, tmp_path):
    path, out, _ = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)  # the module's fixture stays as it is
    raw = yaml.safe_load(path.read_text())
    raw["recipe"]["epochs"] = 1  # every run's config changes
    shorter = tmp_path / "shorter.yaml"
    shorter.write_text(yaml.safe_dump(raw))
    result = _ablate(shorter, "--out", copy, "--rerun-changed")
    assert "3 run now" in result.stdout and "changed: " not in result.stderr, result.output
    run = copy / "module-reduced" / "seed-0"
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1]  # redone at the new length, not resumed from the 2-epoch run
    assert json.loads((run / "config.json").read_text())["recipe"]["epochs"] == 1
    frame = pd.read_csv(copy / "results.csv").set_index("variant")
    assert frame.loc["module-reduced", "status"] == "completed" and "changed" not in set(frame.status)


def _processes_naming(path: Path) -> list[int]:
    """Pids of the live processes whose command line names ``path`` (Linux's /proc; empty elsewhere)."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if str(path).encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
    return pids


def _fake_worker(monkeypatch, returncode, final=None):
    import inception_bench.ablate.local as abl

    def fake_run(cmd, **kw):
        run_dir = Path(cmd[-1])
        if final is not None:
            (run_dir / "final.json").write_text(json.dumps(final))
        return subprocess.CompletedProcess(cmd, returncode)

    monkeypatch.setattr(abl.subprocess, "run", fake_run)


def test_worker_record_is_kept_and_interrupts_stay_partial(tmp_path, monkeypatch):
    run = PlannedRun("v", 0, {}, {}, {}, RunFolder(tmp_path / "v" / "seed-0"))
    own = {"status": "failed", "message": "out of memory at batch size 64; lower the batch size"}
    _fake_worker(monkeypatch, 1, own)
    launch(run, {})
    assert run.status == "failed" and json.loads((run.folder.path / "final.json").read_text()) == own
    run2 = PlannedRun("w", 0, {}, {}, {}, RunFolder(tmp_path / "w" / "seed-0"))
    _fake_worker(monkeypatch, -signal.SIGINT)
    launch(run2, {})
    assert run2.status == "partial" and not (run2.folder.path / "final.json").exists()  # resumed next time
    run3 = PlannedRun("x", 0, {}, {}, {}, RunFolder(tmp_path / "x" / "seed-0"))
    _fake_worker(monkeypatch, -signal.SIGKILL)
    launch(run3, {})
    final = json.loads((run3.folder.path / "final.json").read_text())
    assert run3.status == "failed" and "killed by signal 9" in final["message"] and final["exit_code"] == -9


def test_axes_hold_resolved_values(tmp_path):
    path = _ablation(
        tmp_path,
        grid={},
        variants=[
            {"name": "base"},
            {"name": "naive", "set": {"module": "naive"}},
            {"name": "no-aux", "set": {"aux.enabled": False}},
        ],
    )
    plan = plan_ablation(path, tmp_path / "o")
    assert [r.variant for r in plan.runs] == ["base", "naive", "no-aux"]  # no unnamed variant of an empty grid
    axes = {r.variant: r.axes for r in plan.runs}
    assert axes["base"] == {"module": "reduced", "aux.enabled": True}  # defaults, not blanks
    assert axes["naive"] == {"module": "naive", "aux.enabled": True}
    assert axes["no-aux"] == {"module": "reduced", "aux.enabled": False}


@pytest.mark.slow
def test_failing_workers_are_recorded(tmp_path):
    # a worker that stops with an error line (its data set is unknown), and one that crashes (no spec in its
    # request): each run is recorded as failed with the worker's last line
    plan = plan_ablation(_ablation(tmp_path, data="nowhere", variants=[]), tmp_path / "o")
    run = plan.runs[0]
    launch(run, {})
    final = json.loads((run.folder.path / "final.json").read_text())
    assert run.status == final["status"] == "failed"
    assert final["message"] == "error: recipe.data=nowhere: unknown data set; use one of " + DATA_NAMES
    # the worker's whole log is that line: no warning from `python -m` (its __main__ imported before it ran)
    assert (run.folder.path / "worker.log").read_text().strip() == final["message"]
    broken = PlannedRun("broken", 0, {}, {}, {}, RunFolder(tmp_path / "broken" / "seed-0"))
    broken.request = {"spec_path": str(SMALL), "overrides": {}, "recipe": {}, "seed": 0}
    launch(broken, {})
    final = json.loads((broken.folder.path / "final.json").read_text())
    assert (
        broken.status == "failed"
        and "request.json: spec: (top level): Input should be a valid dictionary" in final["message"]
    )


@pytest.mark.parametrize(
    ("changes", "expect"),
    [
        ({"colour": 1}, "unknown field 'colour'"),
        ({"grid": {}, "variants": []}, "give a 'grid' of axes or a list of 'variants'"),
        ({"grid": {"module": ["fancy"]}}, "variant module-fancy"),
        ({"recipe": {"epochz": 2}}, "recipe.epochz=2: unknown field"),
        ({"recipe": {"epochs": 0}}, "t.yaml: recipe.epochs=0: Input should be greater than or equal"),
        ({"recipe": {"momentum": 1.5}}, "recipe.momentum=1.5: Input should be less than 1"),  # no --momentum here
        ({"recipe": {"schedule": "wavy"}}, "recipe.schedule=wavy: Input should be 'auto', 'step' or 'cosine'"),
        ({"recipe": {"seed": 3}}, "recipe.seed: set seeds at the top level"),
        ({"variants": [{"name": "v", "recipe": {"lr": -1}}]}, "variants.v.recipe.lr=-1: Input should be greater"),
        ({"variants": [{"name": "v", "recipe": {"seed": 1}}]}, "variants.v.recipe.seed: set seeds at the top level"),
        ({"recipe": {"epochs": "two"}}, "recipe.epochs=two: Input should be a valid integer"),
        ({"recipe": {"epochs": 1.5}}, "recipe.epochs=1.5: Input should be a valid integer"),
        ({"seeds": [1, 1]}, "seeds: Value error, must be distinct"),
        ({"baseline": "nope"}, "baseline: 'nope' is not a variant"),
        ({"variants": [{"name": "a"}, {"name": "a"}]}, "variant names must be unique"),
        ({"spec": "nowhere.yaml"}, "t.yaml: spec: nowhere.yaml: no such spec file (looked for "),
    ],
)
def test_bad_ablation_files(tmp_path, changes, expect):
    path = _ablation(tmp_path, **changes)
    result = _ablate(path, "--dry-run")
    assert result.exit_code == 2, result.output
    assert expect.replace("Value error, ", "") in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert " --" not in result.stderr  # a file's errors name its fields, not command-line options


def test_bad_options_and_dry_run(tmp_path):
    path = _ablation(tmp_path)
    assert "--shard 3/2" in _ablate(path, "--shard", "3/2").stderr
    assert "--devices a,b" in _ablate(path, "--devices", "a,b").stderr
    if not torch.cuda.is_available():  # no GPU: --devices would have run on the CPU, unasked
        for extra in ([], ["--dry-run"]):
            result = _ablate(path, "--devices", "0,1", "--out", tmp_path / "cpu", *extra)
            assert result.exit_code == 2 and "--devices 0,1: this machine has no CUDA GPU" in result.stderr
            assert not (tmp_path / "cpu").exists()
    assert "--jobs 0" in _ablate(path, "--jobs", "0").stderr
    # an output that is a file, or another ablation's folder: refused by the dry run too, nothing touched
    (tmp_path / "a-file").write_text("kept\n")
    other = tmp_path / "other"
    other.mkdir()
    (other / "ablation.json").write_text('{"name": "other"}')
    (other / "results.csv").write_text("variant,seed,status\nv,0,completed\n")
    for extra in (["--dry-run"], []):
        result = _ablate(path, "--out", tmp_path / "a-file", *extra)
        assert result.exit_code == 2 and "a-file: is a file; give a folder" in result.stderr, result.output
        result = _ablate(path, "--out", other, *extra)
        assert result.exit_code == 2 and "other: holds the ablation 'other', not 't'" in result.stderr
    assert (tmp_path / "a-file").read_text() == "kept\n" and sorted(p.name for p in other.iterdir()) == [
        "ablation.json",
        "results.csv",
    ]
    assert (other / "results.csv").read_text() == "variant,seed,status\nv,0,completed\n"
    result = _ablate(path, "--dry-run", "--out", tmp_path / "dry")
    assert result.exit_code == 0 and "module-naive" in result.stdout and "new" in result.stdout
    assert not (tmp_path / "dry").exists()  # a dry run writes nothing
    with pytest.raises(IbenchError, match="not found"):
        plan_ablation(tmp_path / "none.yaml")


def test_devices_count_the_gpus_this_process_sees(monkeypatch):
    # --devices 0,1 under a scheduler's CUDA_VISIBLE_DEVICES=2,3 are physical GPUs 2 and 3, as torch numbers them
    from inception_bench.ablate.local import visible_device

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert [visible_device(d) for d in ("0", "1")] == ["0", "1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert [visible_device(d) for d in ("0", "1")] == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-aa, GPU-bb")
    assert visible_device("1") == "GPU-bb"


def test_devices_run_one_run_per_gpu_at_once_each_on_its_own(tmp_path, monkeypatch):
    """--devices 0,1 (two GPUs, faked): two runs at a time, each worker given one GPU of its own through
    CUDA_VISIBLE_DEVICES (the scheduler's numbering), a GPU given again only once its run ended, and the threads
    of the CPU shared between the two."""
    import threading

    from inception_bench.ablate import local

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")  # a scheduler's: --devices 0,1 are GPUs 5 and 7
    both_running = threading.Barrier(2, timeout=60)  # the first two runs must be running at the same time
    lock, holding, seen = threading.Lock(), set(), []

    def fake_launch(run, env):
        gpu = env["CUDA_VISIBLE_DEVICES"]
        with lock:
            assert gpu not in holding, f"GPU {gpu} given to two runs at once"
            holding.add(gpu)
            seen.append((run.variant, gpu, env["OMP_NUM_THREADS"]))
            first_two = len(seen) <= 2
        if first_two:
            both_running.wait()
        with lock:
            holding.discard(gpu)
        run.status = RunStatus.completed

    monkeypatch.setattr(local, "launch", fake_launch)
    path = _ablation(tmp_path, grid={"module": ["reduced", "naive"], "aux.enabled": [True, False]}, variants=[])
    result = _ablate(path, "--devices", "0,1", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert len(seen) == 4 and {gpu for _, gpu, _ in seen} == {"5", "7"}
    assert {gpu for _, gpu, _ in seen[:2]} == {"5", "7"}  # the first two at once: one GPU each
    cores = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)  # OMP_NUM_THREADS: what the runs share
    assert all(threads == str(max(1, cores // 2)) for _, _, threads in seen)


def test_data_that_does_not_load_stops_the_grid_before_any_run(tmp_path):
    """Checked before launching (and by --dry-run): a missing data folder, and a data set whose class count is not
    the spec's, each one error line naming the file and the variant; no run folder is made."""
    missing = tmp_path / "no-such-folder"
    path = _ablation(tmp_path, data=f"imagefolder:{missing}", variants=[])
    for extra in (["--dry-run"], []):
        result = _ablate(path, "--out", tmp_path / "out", *extra)
        assert result.exit_code == 2, result.output
        error = result.stderr.strip().splitlines()[-1]
        assert error.startswith(f"error: {path}: variant module-reduced: ") and str(missing) in error
        assert "checked before any run started" in error and not (tmp_path / "out").exists()
        assert len(result.stderr.strip().splitlines()) == 2  # the plan's line, then the error
    classes = _ablation(tmp_path, "c", data="digits", grid={"num_classes": [10, 7]}, variants=[])
    result = _ablate(classes, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "variant num_classes-7: " in result.stderr and "has 10 classes" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_finished_grid_needs_no_data_to_rebuild_its_results(tmp_path):
    """The data are checked for the runs about to start only: once the grid is done, its folder alone suffices
    (shards' folders merged on a machine without the data)."""
    from PIL import Image

    root = tmp_path / "images"
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("val", 4)):
        for label in ("a", "b"):
            (root / split / label).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / label / f"{i}.png")
    path = _ablation(
        tmp_path,
        data=f"imagefolder:{root}",
        recipe={**RECIPE, "epochs": 1, "batch_size": 8},
        set={"width_mult": 0.125, "num_classes": 2},
        grid={"module": ["reduced"]},
        variants=[],
    )
    done = _ablate(path, "--out", tmp_path / "out")
    assert done.exit_code == 0, done.output
    shutil.rmtree(root)
    again = _ablate(path, "--out", tmp_path / "out")
    assert again.exit_code == 0 and "1/1 runs completed (0 run now" in again.stdout, again.output


def test_a_file_in_the_way_of_a_run_folder_is_named_not_blamed_on_an_option(tmp_path):
    out = tmp_path / "out"
    (out / "module-reduced").mkdir(parents=True)
    (out / "module-reduced" / "seed-0").write_text("not a folder")
    result = _ablate(_ablation(tmp_path, variants=[]), "--out", out)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 2, result.output  # plan line + error
    assert f"error: {out / 'module-reduced' / 'seed-0'}: exists and is not a folder" in result.stderr
    assert "--out" not in result.stderr


def test_shards_partition_the_grid(tmp_path):
    plan = plan_ablation(_ablation(tmp_path, seeds=[0, 1, 2]), tmp_path / "o")
    shards = [select_shard(plan.runs, f"{i}/3") for i in (1, 2, 3)]
    ids = [(r.variant, r.seed) for s in shards for r in s]
    assert sorted(ids) == sorted((r.variant, r.seed) for r in plan.runs) and len(ids) == len(set(ids)) == 9


def test_runs_start_seed_by_seed_so_a_stopped_study_has_whole_seeds_to_pair(tmp_path, monkeypatch):
    from inception_bench.ablate.local import LocalBackend, Summary

    started: list[tuple[str, int]] = []

    def record(self, plan, runs, **_):
        started.extend((r.variant, r.seed) for r in runs)
        return Summary(len(runs), len(runs), 0, [], [], 0.0, "")

    monkeypatch.setattr(LocalBackend, "run", record)
    result = _ablate(_ablation(tmp_path, seeds=[2, 0, 1]), "--out", tmp_path / "o", "--jobs", "2")
    assert result.exit_code == 0, result.output
    variants = ["module-reduced", "module-naive", "diverge"]  # the file's order; its seeds' order, not sorted
    assert started == [(v, s) for s in (2, 0, 1) for v in variants]


@pytest.mark.slow
def test_tune_chooses_on_validation_and_scores_the_seeds_on_test(tmp_path):
    path = _ablation(
        tmp_path,
        variants=[],
        seeds=[0, 1],
        recipe={**RECIPE, "epochs": 1, "precision": "fp32"},
        tune={"lr": [1e-7, 0.2]},
    )
    out = tmp_path / "out"
    dry = _ablate(path, "--out", out, "--dry-run")
    assert dry.exit_code == 0 and "after 4 tuning runs (lr in [1e-07, 0.2]; 0 finished)" in dry.stderr
    result = _ablate(path, "--out", out, "--jobs", "2", "--log", "mlflow")
    assert result.exit_code == 0, result.output
    # each variant's seed 0 is its chosen tuning run (same spec, recipe, seed): copied, not trained again
    assert "2 first-seed runs are their variant's chosen tuning run" in result.stderr
    assert "4/4 runs completed (2 run now" in result.stdout
    tuning = pd.read_csv(out / "tuning.csv")
    results = pd.read_csv(out / "results.csv")
    assert sorted(tuning["variant"]) == ["module-naive", "module-naive", "module-reduced", "module-reduced"]
    for variant in ("module-reduced", "module-naive"):
        mine = tuning[tuning["variant"] == variant]
        # each candidate's validation top-1, read from its own run record; the best (the first among equals) wins
        # run_dir: relative to the ablation folder, so results stay true when it is moved or committed
        scores = [json.loads((out / d / "final.json").read_text())["val_top1"] for d in mine["run_dir"]]
        best = list(mine["tune:lr"])[scores.index(max(scores))]
        assert list(mine["tune:lr"][mine["chosen"]]) == [best]
        assert all(Path(d).parts[:2] == ("tune", variant) for d in mine["run_dir"])  # apart from the seeds' runs
        seeds = results[results["variant"] == variant]
        assert list(seeds["tuned:lr"]) == [best, best] and list(seeds["status"]) == ["completed", "completed"]
        chosen_dir = out / mine["run_dir"][mine["chosen"]].iloc[0]
        seed0_dir = out / seeds[seeds["seed"] == 0]["run_dir"].iloc[0]
        assert (seed0_dir / "final.json").read_text() == (chosen_dir / "final.json").read_text()
        assert (seed0_dir / "metrics.jsonl").read_text() == (chosen_dir / "metrics.jsonl").read_text()
        for row in seeds.itertuples():
            assert row.run_dir == f"{variant}/seed-{row.seed}"
            request = json.loads((out / row.run_dir / "request.json").read_text())
            assert request["recipe"]["lr"] == best
            # the test figure is the held-out split's: this run's headline weights on synthetic's test images
            model = model_from_checkpoint(load_checkpoint(out / row.run_dir / "checkpoint.pt")).eval()
            images, labels = load_data("synthetic", seed=int(row.seed)).test_tensors
            with torch.no_grad():
                top1 = float((model(images).argmax(1) == labels).double().mean())
            assert row.test_top1 == pytest.approx(top1, abs=1e-9)
    again = _ablate(path, "--out", out)
    assert again.exit_code == 0 and "(0 run now" in again.stdout
    # MLflow has every run once, the copied first seeds as runs of their own with the copied epochs
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    logged = client.search_runs([e.experiment_id for e in client.search_experiments()])
    names = sorted(r.info.run_name for r in logged)
    assert names == sorted([*tuning["run_dir"], *results["run_dir"]])
    for run in logged:
        rows = [json.loads(line) for line in (out / run.info.run_name / "metrics.jsonl").read_text().splitlines()]
        history = client.get_metric_history(run.info.run_id, "val_top1")
        assert run.info.status == "FINISHED" and [(m.step, m.value) for m in history] == [
            (r["epoch"], r["val_top1"]) for r in rows
        ]
    report = runner.invoke(app, ["report", str(out), "--out", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    text = (tmp_path / "report" / "report.md").read_text()
    assert "Errors are on the held-out test split" in text and "| variant | lr=1e-07 | lr=0.2 | chosen |" in text


def test_tune_waits_for_the_other_shards_and_refuses_bad_keys(tmp_path):
    path = _ablation(tmp_path, variants=[], tune={"lr": [0.01, 0.1]})
    plan = plan_ablation(path, tmp_path / "o")
    assert len(plan.tuning_runs) == 4 and [r.status for r in plan.runs] == ["waiting", "waiting"]
    assert all(r.note == "waiting for its tuning runs" for r in plan.runs)
    bad = _ablation(tmp_path, name="b", tune={"seed": [1, 2]})
    result = _ablate(bad, "--dry-run")
    assert result.exit_code == 2 and "tune.seed: not a recipe field that can be tuned" in result.stderr
    bad = _ablation(tmp_path, name="c", variants=[], tune={"lr": [-1.0]})
    result = _ablate(bad, "--dry-run")
    assert result.exit_code == 2 and "tune.lr=-1.0: Input should be greater than 0" in result.stderr
    bad = _ablation(tmp_path, name="d", tune={"lr": [0.1, 0.2]})  # its variant "diverge" fixes lr itself
    result = _ablate(bad, "--dry-run")
    assert result.exit_code == 2 and "variants.diverge.recipe: sets lr, which tune: chooses" in result.stderr


def test_adopt_copies_a_finished_run_and_the_copy_is_its_own(tmp_path):
    source = RunFolder(tmp_path / "tune" / "v" / "lr-0.1")
    source.create()
    source.write_record(RunRecord(status=RunStatus.completed, val_top1=0.5))
    source.write_metrics([{"epoch": 1, "val_top1": 0.5}])
    source.log_path.write_text("trained\n")
    seed = RunFolder(tmp_path / "v" / "seed-0")
    seed.path.mkdir(parents=True)  # an empty folder is no run yet
    assert seed.adopt(source)
    assert seed.read_record() == source.read_record() and seed.read_metrics() == source.read_metrics()
    # writes to the copy (records are replaced, the log appended to) leave the source as it was
    seed.write_record(RunRecord(status=RunStatus.failed, message="redone"))
    with open(seed.log_path, "a") as log:
        log.write("again\n")
    assert source.read_record() == RunRecord(status=RunStatus.completed, val_top1=0.5)
    assert source.log_path.read_text() == "trained\n"
    started = RunFolder(tmp_path / "w" / "seed-0")  # a folder with content is left alone
    started.create()
    started.write_request({"variant": "w"})
    assert not started.adopt(source) and not started.has_record()
    assert not list(tmp_path.rglob(".seed-0.*"))  # no staging folder left behind


def test_the_grid_view_counts_running_waiting_and_failed_runs_and_names_nodes(tmp_path, monkeypatch, capsys):
    """The live view on a terminal, and the plain line per finished run elsewhere (both on stderr)."""
    from inception_bench.ablate.local import Display

    plan = plan_ablation(_ablation(tmp_path, seeds=[0, 1], variants=[]), tmp_path / "o")
    a, b, c, _ = plan.runs
    nodes = {id(a): "node-a", id(b): None}  # b waits for room, as in Ray's queue
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    display = Display(plan.runs, "auto", where=lambda run: nodes[id(run)])

    def rows() -> list[str]:
        return [t.description for t in display.progress.tasks if t.visible and not t.finished]

    def shown(expected: list[str]) -> list[str]:  # the view as the poll thread shows it within 10 s
        deadline = time.time() + 10
        while rows() != expected and time.time() < deadline:
            time.sleep(0.1)
        return rows()

    with display:
        display.start(a)
        display.start(b)
        assert rows() == ["runs: 1 running, 1 waiting, 2 pending", f"  {a.variant} seed {a.seed} on node-a (epochs)"]
        nodes[id(b)] = "node-b"  # Ray placed it
        a.folder.create()
        a.folder.write_metrics([{"epoch": 1}])
        expected = [
            "runs: 2 running, 0 waiting, 2 pending",
            f"  {a.variant} seed {a.seed} on node-a (epochs)",
            f"  {b.variant} seed {b.seed} on node-b (epochs)",
        ]
        assert shown(expected) == expected
        assert [t.completed for t in display.progress.tasks[1:3]] == [1, 0]  # a's epoch, from its metrics
        nodes[id(b)] = "node-c"  # retried on another node
        expected[2] = f"  {b.variant} seed {b.seed} on node-c (epochs)"
        assert shown(expected) == expected
        a.status = RunStatus.failed
        display.finish(a, 1, "node-a")
        assert rows()[0] == "runs: 1 running, 0 waiting, 2 pending, 1 failed"
    printed = capsys.readouterr().err
    assert "[1/4, 1 failed, ETA" in printed and f"{a.variant} seed {a.seed}: failed on node-a" in printed
    plain = Display([c], "auto", where=lambda run: "node-b")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    with plain:
        plain.start(c)
        c.status = RunStatus.completed
        plain.finish(c, 1, "node-b")
    assert capsys.readouterr().err.strip().endswith(f"{c.variant} seed {c.seed}: completed on node-b")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal, told --progress plain or none
    for mode, shows in (("plain", True), ("none", False)):
        told = Display([c], mode)
        with told:
            told.start(c)
            told.finish(c, 1)
        err = capsys.readouterr().err
        assert told.progress is None and (f"{c.variant} seed {c.seed}: completed" in err) is shows
        assert (err == "") is not shows


@pytest.mark.parametrize("path", sorted((ROOT / "specs" / "ablations").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_ablation_files_plan(path, tmp_path):
    """Every shipped ablation file plans: its variants build, its recipes and tuning are valid."""
    plan = plan_ablation(path, tmp_path / "out")
    assert plan.runs and all(r.spec is not None for r in plan.runs)


def test_the_paper_studys_equal_cost_naive_variant_costs_the_baselines_macs():
    from torch.utils.flop_counter import FlopCounterMode

    plan = plan_ablation(ROOT / "specs" / "ablations" / "paper.yaml", ROOT / "runs" / "never-written")
    specs = {r.variant: r.spec for r in plan.runs}

    def macs(variant: str) -> float:  # torch's own counter, inference (no aux heads): 2 FLOPs a multiply-add
        spec = specs[variant]
        model = build_model(spec).eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.zeros(1, 3, spec.input_size, spec.input_size))
        return counter.get_total_flops() / 2

    ratio = macs("naive-equal-macs") / macs("module-reduced_aux.enabled-on")
    assert 0.95 < ratio < 1.05
    assert macs("module-naive_aux.enabled-on") / macs("module-reduced_aux.enabled-on") > 5  # naive at full width: not
