"""The not-learning guard (issue 25): chance levels by independent arithmetic, when it reads the loss, and a real
tiny run that it stops (learning rate 1e-7), lets go on with a warning, and leaves alone when the run learns."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from conftest import SMALL, invoke_ablate, write_ablation
from typer.testing import CliRunner

from inception_bench.cli import app
from inception_bench.run.guard import Chance, first_checked_epoch, verdict

runner = CliRunner()
LN10 = 2.302585092994046  # ln 10, written out


def test_chance_is_ln_k_plus_the_aux_shares():
    assert Chance(10, 2, 0.3).loss == pytest.approx(LN10 * 1.6)  # 3.684: the "chance is 3.68"
    assert Chance(10, 0, 0.3).loss == pytest.approx(LN10)
    assert Chance(1000, 1, 0.5).loss == pytest.approx(3 * LN10 * 1.5)  # ln 1000 = 3 ln 10
    assert Chance(10, 2, 0.3).threshold == pytest.approx(0.9 * LN10 * 1.6)
    assert Chance(10, 2, 0.3).top1_threshold == pytest.approx(0.2)
    assert Chance(2, 0, 0.3).top1_threshold == pytest.approx(0.75)  # halfway from 1/2 to 1


@pytest.mark.parametrize(
    ("share", "epochs", "steps", "first"),
    [(0.3, 8, 200, 3), (0.3, 30, 500, 9), (0.3, 3, 500, 2), (0.25, 8, 500, 2), (1.0, 5, 500, 5), (0.5, 8, 66, 5)],
)
def test_first_checked_epoch(share, epochs, steps, first):
    assert first_checked_epoch(share, epochs, steps) == first  # the last case: 300 steps come in epoch 5


def test_verdict_reads_the_loss_from_its_epoch_on():
    chance = Chance(10, 2, 0.3)  # 3.684, learning below 3.316
    assert verdict(chance, 2, 8, 200, 0.3, 4.0, 0.1) is None  # before epoch 3
    assert verdict(chance, 3, 8, 200, 0.3, 3.30, 0.1) is None  # the loss is learning
    assert verdict(chance, 3, 8, 200, 0.3, 6.96, 0.215) is None  # the loss is high but val top-1 is past 2/K
    assert verdict(chance, 3, 8, 66, 0.3, 4.0, 0.1) is None  # 198 steps: too few to judge
    said = verdict(chance, 3, 8, 200, 0.3, 3.71, 0.1025)
    assert (
        said is not None
        and "after epoch 3 of 8" in said
        and "3.710" in said
        and "ln 10 x (1 + 2 x 0.3) = 3.684" in said
        and "validation top-1 is 10.2%" in said
    )
    assert verdict(chance, 7, 8, 200, 0.3, 3.4, 0.12) is not None  # back at chance later: still not learning


def _train(tmp_path, *extra: str):
    out = tmp_path / "run"
    args = ["train", str(SMALL), "--set", "width_mult=0.125", "--data", "digits", "--batch-size", "16"]  # 73 steps
    args += ["--device", "cpu", "--workers", "0", "--bn-images", "0", "--averaging", "none"]
    result = runner.invoke(app, [*args, "--out", str(out), *extra])
    final = json.loads((out / "final.json").read_text())
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return result, final, metrics


def test_a_run_at_a_learning_rate_of_1e7_is_stopped(tmp_path):
    result, final, metrics = _train(tmp_path, "--epochs", "6", "--lr", "1e-7")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert final["status"] == "not-learning" and final["epochs"] == 5 == len(metrics)  # 300 steps: 365 by epoch 5
    chance = math.log(10) * (1 + 2 * 0.3)  # the small spec: 10 classes, two aux heads weighted 0.3
    assert metrics[-1]["train_loss"] > 0.9 * chance
    assert "not learning: after epoch 5 of 6" in final["message"] and "ibench lr-find" in final["message"]
    assert final["test_top1"] is None  # a run that did not learn is not scored
    assert result.stderr.strip().splitlines()[-1].startswith("error: not learning")


def test_warn_goes_on_and_the_record_keeps_the_warning(tmp_path):
    result, final, metrics = _train(tmp_path, "--epochs", "5", "--lr", "1e-7", "--not-learning", "warn", "-q")
    assert result.exit_code == 0 and final["status"] == "completed" and len(metrics) == 5
    assert final["message"].startswith("warning: not learning: after epoch 5 of 5")
    assert "warning: not learning" in result.stderr


def test_a_run_that_learns_is_left_alone(tmp_path):
    result, final, metrics = _train(tmp_path, "--epochs", "5")  # the guard reads epoch 5 (365 steps)
    assert result.exit_code == 0 and final["status"] == "completed" and final["message"] == ""
    assert metrics[-1]["train_loss"] < 0.75 * math.log(10) * 1.6  # well below chance, by independent arithmetic


def test_ablate_records_a_run_that_did_not_learn_and_the_report_lists_it_apart(tmp_path):
    recipe = {"epochs": 5, "batch_size": 16, "workers": 0, "device": "cpu", "lr": 1.0e-7}
    raw = {"name": "stuck", "spec": str(SMALL), "data": "digits", "recipe": recipe, "seeds": [0]}
    path = write_ablation(tmp_path, {**raw, "set": {"width_mult": 0.125}, "variants": [{"name": "lr-1e-7"}]})
    out = tmp_path / "out"
    result = invoke_ablate(path, "--out", out)
    assert result.exit_code == 1 and "not-learning: lr-1e-7 seed 0: not learning: after epoch 5 of 5" in result.stderr
    row = pd.read_csv(out / "results.csv").iloc[0]
    assert row.status == "not-learning" and "ibench lr-find" in row.error
    again = invoke_ablate(path, "--out", out)  # a record like any failure: not redone unless asked
    assert "(0 run now" in again.stdout
    report = runner.invoke(app, ["report", str(out), "--out", str(tmp_path / "rep")])
    assert report.exit_code == 0, report.output
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "lr-1e-7 seed 0: **not-learning**: not learning: after epoch 5 of 5" in md
