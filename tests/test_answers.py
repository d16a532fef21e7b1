"""The README's answers table (inception_bench.report.answers, scripts/answers.py) on a study folder written by hand:
effects, intervals, cost ratios and verdicts checked against arithmetic done here."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from inception_bench.errors import IbenchError
from inception_bench.report.answers import (
    MARGIN,
    QUESTIONS,
    Answer,
    Question,
    answer,
    answers,
    markdown,
    verdict,
)
from inception_bench.report.load import load_study
from inception_bench.report.stats import Difference

ROOT = Path(__file__).resolve().parent.parent

# per seed: test top-1 (fraction), val top-1 per epoch, seconds per epoch, images/s
A = {0: (0.900, [0.80, 0.89, 0.906], 10.0, 100.0), 1: (0.905, [0.81, 0.90, 0.91], 10.0, 110.0),
     2: (0.895, [0.79, 0.88, 0.90], 10.0, 90.0)}  # fmt: skip
B = {0: (0.910, [0.88, 0.905, 0.915], 20.0, 50.0), 1: (0.920, [0.89, 0.91, 0.92], 20.0, 40.0),
     2: (0.912, [0.87, 0.90, 0.91], 20.0, 60.0)}  # fmt: skip
PARAMS = {"a": 1000, "b": 4000}
OPS = {"a": 2_000_000, "b": 10_000_000}


def _write_study(folder: Path, runs: dict[str, dict[int, tuple[float, list[float], float, float]]]) -> None:
    rows = []
    for variant, seeds in runs.items():
        for seed, (test, vals, seconds, speed) in seeds.items():
            run = folder / variant / f"seed-{seed}"
            run.mkdir(parents=True)
            lines = [
                {"epoch": e + 1, "val_top1": v, "seconds": seconds, "images_per_sec": speed} for e, v in enumerate(vals)
            ]
            (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
            rows.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "status": "completed",
                    "val_top1": vals[-1],
                    "val_top5": 1.0,
                    "test_top1": test,
                    "test_top5": 1.0,
                    "params": PARAMS[variant],
                    "ops": OPS[variant],
                    "train_images_per_sec": speed,
                    "wall_seconds": 3 * seconds,
                    "run_dir": f"/elsewhere/{variant}/seed-{seed}",  # where it was written: not here
                }
            )
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    meta = {"name": folder.name, "baseline": "b", "variants": list(runs), "axes": [], "seeds": [0, 1, 2]}
    (folder / "ablation.json").write_text(json.dumps(meta))


QUESTION = Question("Is a better than b?", "yes", "better", "toy", "a", "b")


def _bench_row(model: str, speed: float, role: str = "fast", date: str = "12-06") -> dict:
    """One row of an ``ibench bench --output`` CSV, the columns the answers read."""
    return {"model": model, "mode": "train", "role": role, "images_per_sec": speed, "batch_size": 64,
            "image_size": 32, "precision": "bf16", "device": "cpu (X, 1 threads)", "date": date}  # fmt: skip


def test_answer_is_the_paired_difference_and_the_cost_ratios(tmp_path):
    _write_study(tmp_path / "toy", {"a": A, "b": B})
    got = answer(QUESTION, load_study(tmp_path / "toy"))
    # by hand: per-seed differences of test top-1 error in points, a t-interval with n - 1 degrees of freedom
    d = np.array([100 * ((1 - A[s][0]) - (1 - B[s][0])) for s in (0, 1, 2)])
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
    assert got.difference is not None and got.difference.method == "paired" and got.seeds == (3, 3)
    assert got.difference.diff == pytest.approx(d.mean())
    assert (got.difference.low, got.difference.high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert got.split == "test"
    assert got.costs["weights"] == pytest.approx(1000 / 4000)
    assert got.costs["MACs"] == pytest.approx(0.2)
    # speed only from a benchmark of the study (bench.csv), not from the runs' own images/s: none here yet
    assert got.costs["img/s"] is None and got.costs["time to target"] is None
    # target: b's median final val top-1 (0.915 of 0.915, 0.92, 0.91) minus 1 point = 0.905. a reaches it at epoch 3
    # (seed 0: 0.906), 3 (seed 1: 0.90 < 0.905), never (seed 2: 0.90): median 30 s; b at epoch 2, 2, 3: median 40 s
    assert got.target == pytest.approx(0.905)
    # images seen to the target (the runs' images/s x seconds, epoch by epoch): a at epoch 3 of seed 0 (100 x 10 x 3)
    # and seed 1 (110 x 10 x 3), never on seed 2: median 3300; b at 2, 2, 3 epochs: 2000, 1600, 3600: median 2000
    assert got.costs["images to target"] == pytest.approx(3300 / 2000)
    # with the study's bench: its last call only (an earlier call on another day is left out, and its baseline
    # rows): a 300 img/s, b 100
    rows = [("a", "fast", 999.0, "12-05"), ("b", "fast", 1.0, "12-05"), ("a", "baseline", 10.0, "12-06"),
            ("b", "fast", 100.0, "12-06"), ("a", "fast", 300.0, "12-06")]  # fmt: skip
    bench = pd.DataFrame([_bench_row(m, v, role=r, date=d) for m, r, v, d in rows])
    bench.to_csv(tmp_path / "toy" / "bench.csv", index=False)
    got = answer(QUESTION, load_study(tmp_path / "toy"))
    assert got.costs["img/s"] == pytest.approx(3.0)
    assert got.costs["time to target"] == pytest.approx((3300 / 300) / (2000 / 100))
    assert got.speed_source == "cpu (X, 1 threads), 32 px, batch 64, bf16, 12-06"
    assert "Speeds (bench.csv) measured on: toy: cpu (X, 1 threads), 32 px, batch 64, bf16, 12-06." in markdown([got])
    # a variant the bench lacks is said, not silently left out
    pd.DataFrame([_bench_row("a", 300.0)]).to_csv(tmp_path / "toy" / "bench.csv", index=False)
    got = answer(QUESTION, load_study(tmp_path / "toy"))
    assert got.costs["img/s"] is None and "b not in bench.csv" in markdown([got])
    # a errs more (about +1.4 points) and the interval is above 0: the claim "a is better" is contradicted
    assert got.verdict == "contradicted"


def test_verdicts_follow_the_interval():
    def diff(low: float, high: float) -> Difference:
        return Difference((low + high) / 2, low, high, "paired", 5)

    assert verdict("better", diff(-1.0, -0.1)) == "confirmed"
    assert verdict("better", diff(-1.0, 0.2)) == "not seen"
    assert verdict("better", diff(0.1, 0.9)) == "contradicted"
    assert verdict("no-worse", diff(-0.3, MARGIN - 0.01)) == "confirmed"  # a bit worse at most: within the margin
    assert verdict("no-worse", diff(0.2, MARGIN + 0.3)) == "not seen"
    assert verdict("no-worse", diff(MARGIN + 0.1, 2.0)) == "contradicted"
    assert verdict("better", None) == "running"
    assert verdict("none", diff(-1.0, -0.5)) == "no claim"


def test_a_no_worse_claim_confirmed_while_a_measurably_errs_more_says_so():
    def row(claim: str, low: float, high: float) -> str:
        question = Question("Is a no worse than b?", "yes", claim, "toy", "a", "b")  # type: ignore[arg-type]
        difference = Difference((low + high) / 2, low, high, "paired", 3)
        costs = dict.fromkeys(("weights", "MACs", "img/s", "images to target", "time to target"))
        got = Answer(question, (3, 3), difference, "test", costs, None, verdict(question.claim, difference))
        return markdown([got]).splitlines()[2]

    said = "a errs more, by less than the"
    # the whole interval above 0 and below the margin: confirmed (within it), and measurably worse
    assert "**confirmed**" in row("no-worse", 0.28, 0.42) and said in row("no-worse", 0.28, 0.42)
    assert "+0.35 [+0.28, +0.42] (3 seeds, paired) on test: a errs more" in row("no-worse", 0.28, 0.42)
    # an interval across 0: confirmed, nothing to add; above the margin's reach: not seen, nothing added
    assert "**confirmed**" in row("no-worse", -0.1, 0.4) and said not in row("no-worse", -0.1, 0.4)
    assert "**not seen**" in row("no-worse", 0.2, 0.8) and said not in row("no-worse", 0.2, 0.8)
    # a "better" claim contradicted says so in its verdict alone
    assert "**contradicted**" in row("better", 0.28, 0.42) and said not in row("better", 0.28, 0.42)


def test_studies_not_run_yet_and_one_seed_so_far(tmp_path):
    _write_study(tmp_path / "toy", {"a": {0: A[0]}, "b": {0: B[0]}})
    missing = Question("Is c better than d?", "yes", "better", "absent", "c", "d")
    rows = answers(tmp_path, [QUESTION, missing])
    assert rows[1] is missing
    table = markdown(rows)
    assert "not run yet" in table and "[absent](results/studies/absent)" in table
    assert "1 seed so far" in table and "**running**" in table


def test_script_fills_the_readme_between_its_markers(tmp_path):
    (tmp_path / "studies").mkdir()  # no study run yet: every row says so
    readme = tmp_path / "README.md"
    spec = importlib.util.spec_from_file_location("answers_script", ROOT / "scripts" / "answers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    BEGIN, END = module.BEGIN, module.END  # the markers, stated once in the script

    readme.write_text(f"# x\n\n{BEGIN}\nTHE-OLD-TABLE\n{END}\n\nrest\n")
    script = [sys.executable, str(ROOT / "scripts" / "answers.py"), "--studies", str(tmp_path / "studies")]
    check = subprocess.run([*script, "--readme", str(readme), "--check"], capture_output=True, text=True)
    assert check.returncode == 1 and "out of date" in check.stderr
    subprocess.run([*script, "--readme", str(readme)], check=True, capture_output=True)
    text = readme.read_text()
    assert "THE-OLD-TABLE" not in text and text.endswith(f"{END}\n\nrest\n")
    assert text.count("not run yet") == len(QUESTIONS)
    assert subprocess.run([*script, "--readme", str(readme), "--check"]).returncode == 0


def test_the_readme_table_is_what_the_committed_studies_give():
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "answers.py"), "--check"], capture_output=True)
    assert check.returncode == 0, check.stderr.decode()


def test_the_reports_answers_on_a_grid_of_three_axes_hold_the_other_two_fixed(tmp_path):
    """module x aux x width: each of the paper's questions gets one clause per combination of the other two axes,
    and each clause's errors and paired difference are those of its own four runs (by hand here)."""
    from inception_bench.report.stats import answer_questions

    folder = tmp_path / "grid3"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows, tops = [], {}
    for module in ("reduced", "naive"):
        for aux in (True, False):
            for width in (0.25, 0.5):
                variant = f"module-{module}_aux.enabled-{'on' if aux else 'off'}_width_mult-{width}"
                for seed in (0, 1):
                    top1 = round(float(rng.uniform(0.80, 0.95)), 4)
                    tops[(module, aux, width, seed)] = top1
                    rows.append(
                        {
                            "variant": variant,
                            "seed": seed,
                            "status": "completed",
                            "val_top1": top1,
                            "val_top5": 1.0,
                            "test_top1": top1,
                            "test_top5": 1.0,
                            "params": 1000 if module == "reduced" else 4000,
                            "ops": 10**6 if module == "reduced" else 10**7,
                            "train_images_per_sec": 100.0,
                            "wall_seconds": 10.0,
                            "module": module,
                            "aux.enabled": aux,
                            "width_mult": width,
                            "run_dir": str(folder / variant / f"seed-{seed}"),
                        }  # fmt: skip
                    )
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    meta = {"name": "grid3", "axes": ["module", "aux.enabled", "width_mult"], "seeds": [0, 1]}
    (folder / "ablation.json").write_text(json.dumps(meta))
    module_text, aux_text = answer_questions(load_study(folder))

    def clause(text: str, where: str) -> str:
        (part,) = [c for c in text.split("; ") if f"with {where}: " in c]
        return part

    def err(module: str, aux: bool, width: float) -> list[float]:
        return [100 * (1 - tops[(module, aux, width, s)]) for s in (0, 1)]

    for aux in (True, False):
        for width in (0.25, 0.5):
            a, b = err("reduced", aux, width), err("naive", aux, width)
            got = clause(module_text, f"aux {'on' if aux else 'off'}, width_mult {width}")
            assert f"test top-1 error {np.mean(a):.2f}% reduced vs {np.mean(b):.2f}% naive (2 vs 2 runs)" in got
            assert f"difference {np.mean(np.subtract(a, b)):+.2f} points" in got and "paired over 2 seeds" in got
    for module in ("reduced", "naive"):
        for width in (0.25, 0.5):
            a, b = err(module, True, width), err(module, False, width)
            got = clause(aux_text, f"{module}, width_mult {width}")
            assert f"test top-1 error {np.mean(a):.2f}% with vs {np.mean(b):.2f}% without (2 vs 2 runs)" in got
            assert f"difference {np.mean(np.subtract(a, b)):+.2f} points" in got
    assert module_text.count("test top-1 error") == 4 and aux_text.count("test top-1 error") == 4  # one a combination


def test_study_readme_states_each_variants_results_and_the_cpu_time(tmp_path):
    """scripts/study_readme.py: per variant its seeds, tuned rate, mean and sd of test error and its paired interval
    against the baseline (from the report's summary.csv), and the CPU time summed from the run records."""
    study = tmp_path / "toy"
    _write_study(study, {"a": A, "b": B})
    results = pd.read_csv(study / "results.csv")
    results["tuned:lr"] = [0.3] * 3 + [0.6] * 3
    results.to_csv(study / "results.csv", index=False)
    for run in study.glob("*/seed-*"):
        (run / "config.json").write_text("{}")
    final = {"status": "completed", "wall_seconds": 3600.0, "device": "cpu (Xeon, 2 threads)"}
    (study / "a" / "seed-0" / "final.json").write_text(json.dumps(final))  # a finished run: its record's seconds
    report = subprocess.run([sys.executable, "-m", "inception_bench", "report", str(study), "--out",
                             str(study / "report")], capture_output=True, text=True)  # fmt: skip
    assert report.returncode == 0, report.stderr
    script = subprocess.run([sys.executable, str(ROOT / "scripts" / "study_readme.py"), str(study)],
                            capture_output=True, text=True)  # fmt: skip
    assert script.returncode == 0, script.stderr
    text = (study / "README.md").read_text()
    err_a = np.array([100 * (1 - A[s][0]) for s in (0, 1, 2)])
    d = err_a - np.array([100 * (1 - B[s][0]) for s in (0, 1, 2)])
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
    row_a = f"| a | 3 | 0.3 | {err_a.mean():.2f} ± {err_a.std(ddof=1):.2f} | "
    row_a += f"{d.mean():+.2f} [{d.mean() - half:.2f}, {d.mean() + half:.2f}] (paired) | 1,000 | 2.0M | 100 |"
    assert row_a in text, text
    assert "| b | 3 | 0.6 |" in text and "| baseline | 4,000 | 10.0M |" in text
    # CPU time: a seed 0's record (3600 s x 2 threads); the others, without final.json, their epochs' seconds
    # (3 x 10 for a, 3 x 20 for b) at one thread
    assert f"**CPU time:** {(2 * 3600 + 2 * 30 + 3 * 60) / 3600:.1f} core-hours" in text
    assert "## Results\n" in text and "**State:** complete" in text and "train images/s (the runs' own)" in text
    err_b = np.array([100 * (1 - B[s][0]) for s in (0, 1, 2)])  # b, the toy's baseline
    half_b = stats.t.ppf(0.975, 2) * err_b.std(ddof=1) / math.sqrt(3)
    ci_b = f"[{100 - err_b.mean() - half_b:.2f}, {100 - err_b.mean() + half_b:.2f}]"
    assert f"The baseline scores {100 - err_b.mean():.2f}% test top-1 (mean of 3 seeds, 95% CI {ci_b})." in text
    assert "**Machines (finished run folders on each):** cpu (Xeon): 1." in text
    # with the study's interleaved bench, its images/s (the runs' own compare machine loads as much as variants)
    pd.DataFrame([_bench_row("a", 300.0), _bench_row("b", 90.0)]).to_csv(study / "bench.csv", index=False)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "study_readme.py"), str(study)], check=True)
    text = (study / "README.md").read_text()
    assert "train images/s (bench.csv)" in text and "| 1,000 | 2.0M | 300 |" in text and "| 10.0M | 90 |" in text
    # the commands name the folder `bash scripts/run_studies.sh toy` writes, not where this copy happens to lie
    assert "--out results/studies/toy --jobs" in text and str(tmp_path) not in text
    # a study whose runs have no test score is judged on validation, and its README says so
    results = pd.read_csv(study / "results.csv")
    results["test_top1"] = float("nan")
    results.to_csv(study / "results.csv", index=False)
    (study / "bench.csv").unlink()  # the toy's rows carry only the columns the answers read
    subprocess.run([sys.executable, "-m", "inception_bench", "report", str(study), "--out", str(study / "report")],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run([sys.executable, str(ROOT / "scripts" / "study_readme.py"), str(study)], check=True)
    text = (study / "README.md").read_text()
    val_b = np.array([100 * (1 - B[s][1][-1]) for s in (0, 1, 2)])
    assert "| val top-1 error % (mean ± sd) |" in text and "test top-1" not in text
    assert f"The baseline scores {100 - val_b.mean():.2f}% val top-1 (mean of 3 seeds, 95% CI [" in text


def test_a_bench_csv_that_is_not_one_is_named(tmp_path):
    _write_study(tmp_path / "toy", {"a": A, "b": B})
    (tmp_path / "toy" / "bench.csv").write_text("model,images_per_sec\na,1\n")
    with pytest.raises(IbenchError, match=r"toy/bench.csv: not an `ibench bench --output` CSV \(missing columns"):
        answer(QUESTION, load_study(tmp_path / "toy"))


def test_a_variant_short_of_the_target_is_said_not_left_blank(tmp_path):
    # target: b's final val top-1 0.915 minus 1 point = 0.905; a's run peaks at 0.90: never there
    _write_study(tmp_path / "toy", {"a": {0: A[2]}, "b": {0: B[0]}})
    got = answer(QUESTION, load_study(tmp_path / "toy"))
    assert got.unreached == ("a",) and got.costs["images to target"] is None
    assert "a short of the target (median over seeds)" in markdown([got])


def test_study_readme_of_a_study_with_no_completed_run(tmp_path):
    # what `ibench report` leaves for a study that has not finished a run: an empty summary.csv
    study = tmp_path / "toy"
    (study / "report").mkdir(parents=True)
    (study / "report" / "summary.csv").write_text("\n")
    pd.DataFrame([{"variant": "a", "seed": 0, "status": "new"}]).to_csv(study / "results.csv", index=False)
    (study / "ablation.json").write_text(json.dumps({"name": "toy", "variants": ["a"], "seeds": [0]}))
    script = subprocess.run([sys.executable, str(ROOT / "scripts" / "study_readme.py"), str(study)],
                            capture_output=True, text=True)  # fmt: skip
    assert script.returncode == 0, script.stderr
    text = (study / "README.md").read_text()
    assert "**State:** running: 0 of 1 runs completed" in text and "No completed run yet" in text


def test_a_study_readme_dates_records_by_their_first_commit_not_the_clones_file_times(tmp_path):
    study = tmp_path / "toy"
    _write_study(study, {"a": A, "b": B})
    for run in study.glob("*/seed-*"):
        (run / "config.json").write_text("{}")
    final = study / "a" / "seed-0" / "final.json"
    final.write_text(json.dumps({"status": "completed", "wall_seconds": 10.0}))
    os.utime(final, (1_700_000_000, 1_700_000_000))  # 2023-11-14 22:13 UTC: not committed, its file's time
    readme = [sys.executable, str(ROOT / "scripts" / "study_readme.py"), str(study)]
    subprocess.run(readme, check=True, capture_output=True)
    assert "records dated 2023-11-14)" in (study / "README.md").read_text()
    when = {"GIT_AUTHOR_DATE": "2024-02-03T23:30:00+0000", "GIT_COMMITTER_DATE": "2024-02-03T23:30:00+0000"}
    git = {**os.environ, **when, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "runs"]):
        subprocess.run(["git", *args], cwd=tmp_path, env=git, check=True, capture_output=True)
    os.utime(final, (1_800_000_000, 1_800_000_000))  # as a clone leaves it: its checkout's time, not the run's
    subprocess.run(readme, check=True, capture_output=True)
    assert "records dated 2024-02-03)" in (study / "README.md").read_text()
    final.write_text(json.dumps({"status": "completed", "wall_seconds": 20.0}))  # rerun since: not that commit's
    os.utime(final, (1_750_000_000, 1_750_000_000))  # 2025-06-15
    subprocess.run(readme, check=True, capture_output=True)
    assert "records dated 2025-06-15)" in (study / "README.md").read_text()


def test_a_study_readme_counts_a_run_copied_from_another_study_where_it_was_trained(tmp_path):
    # b seed 0 is a copy of a run that study `base` trained (ibench ablate --reuse): its hour at 2 threads is that
    # study's CPU time, not this one's; a seed 0, trained here, counts (3 x 10 s of each other run's epochs too)
    study = tmp_path / "toy"
    _write_study(study, {"a": A, "b": B})
    for run in study.glob("*/seed-*"):
        (run / "config.json").write_text("{}")
    record = {"status": "completed", "wall_seconds": 3600.0, "device": "cpu (Xeon, 2 threads)"}
    for run in (study / "a" / "seed-0", study / "b" / "seed-0"):
        (run / "final.json").write_text(json.dumps(record))
    (study / "b" / "seed-0" / "copied-from.json").write_text(json.dumps({"from": "../x", "ablation": "base"}))
    subprocess.run([sys.executable, "-m", "inception_bench", "report", str(study), "--out", str(study / "report")],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run([sys.executable, str(ROOT / "scripts" / "study_readme.py"), str(study)], check=True)
    text = (study / "README.md").read_text()
    hours = (2 * 3600 + 2 * 30 + 2 * 60) / 3600  # a: 1 record + 2 runs' epochs; b: 2 runs' epochs (seed 0 copied)
    assert f"**CPU time:** {hours:.1f} core-hours" in text, text
    assert "1 run folders are copies of the same runs finished by `base` (1)" in text
    assert "(2 of 6 run folders" in text  # the copy is this study's run all the same


def test_a_study_readme_quotes_each_comment_block_of_its_ablation_file_as_a_paragraph(tmp_path):
    study = tmp_path / "toy"
    _write_study(study, {"a": A, "b": B})
    source = tmp_path / "toy.yaml"
    source.write_text("# What it asks,\n# in two lines.\nname: toy\n# Tuning: why.\ntune: {lr: [0.1]}\n#no space\n")
    meta = json.loads((study / "ablation.json").read_text())
    (study / "ablation.json").write_text(json.dumps({**meta, "file": str(source)}))
    subprocess.run([sys.executable, "-m", "inception_bench", "report", str(study), "--out", str(study / "report")],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run([sys.executable, str(ROOT / "scripts" / "study_readme.py"), str(study)], check=True)
    assert "> What it asks,\n> in two lines.\n>\n> Tuning: why.\n\nSeeds" in (study / "README.md").read_text()


def test_a_study_readme_says_which_seeds_trained_at_which_precision_when_they_differ(tmp_path):
    # `precision: auto` is bf16 on one machine and fp32 on another: a's seed 0, the copy of its chosen tuning run
    # (tune/a/lr-0.3), ran on the fp32 one
    study = tmp_path / "toy"
    _write_study(study, {"a": A, "b": B})
    tuning = study / "tune" / "a" / "lr-0.3"
    tuning.mkdir(parents=True)
    cpu = {"bf16": "cpu (Xeon, AMX bf16, 1 threads)", "fp32": "cpu (EPYC, AVX2, 1 threads)"}
    for run in [*study.glob("*/seed-*"), tuning]:
        precision = "fp32" if run in (tuning, study / "a" / "seed-0") else "bf16"
        (run / "config.json").write_text(json.dumps({"precision": precision}))
        record = {"status": "completed", "wall_seconds": 1.0, "device": cpu[precision]}
        (run / "final.json").write_text(json.dumps(record))
    readme = [sys.executable, str(ROOT / "scripts" / "study_readme.py"), str(study)]
    subprocess.run(readme, check=True, capture_output=True)
    text = (study / "README.md").read_text()
    # the machines count run folders once (a's seed 0 is its tuning run's copy); the note names every seed
    assert "cpu (Xeon, AMX bf16), bf16: 5; cpu (EPYC, AVX2), fp32: 1." in text
    assert "**Precision (the runs differ):** `a` bf16 (seeds 1, 2), fp32 (seed 0); `b` bf16 (seeds 0, 1, 2)." in text
    for run in (tuning, study / "a" / "seed-0"):  # all at one precision: no note
        (run / "config.json").write_text(json.dumps({"precision": "bf16"}))
    subprocess.run(readme, check=True, capture_output=True)
    assert "Precision (the runs differ)" not in (study / "README.md").read_text()
    (study / "b" / "seed-1" / "config.json").write_text("{not json")  # a corrupt config: left out, not a crash
    subprocess.run(readme, check=True, capture_output=True)


def test_a_and_b_tuned_to_different_rates_is_said_beside_the_effect(tmp_path):
    # a study that tuned each variant's rate: a was tuned to 1.2, b to 0.3, so the effect is the rate's too
    study = tmp_path / "toy"
    _write_study(study, {"a": A, "b": B})
    results = pd.read_csv(study / "results.csv")
    results["tuned:lr"] = [1.2] * 3 + [0.3] * 3  # a's three seeds, then b's
    results.to_csv(study / "results.csv", index=False)
    got = answer(QUESTION, load_study(study))
    assert got.tuned_apart == ("lr 1.2 vs 0.3",)
    assert "(3 seeds, paired) on test; tuned apart: lr 1.2 vs 0.3 |" in markdown([got])
    results["tuned:lr"] = [1.2] * 3 + [None] * 3  # b not tuned (its rate fixed by the study): unknown, said so
    results["tuned:optimizer"] = ["sgd"] * 6  # a tuned value that is not a number, the same on both sides
    results.to_csv(study / "results.csv", index=False)
    assert answer(QUESTION, load_study(study)).tuned_apart == ("lr 1.2 vs -",)
    results["tuned:lr"] = 0.3  # both at one rate: nothing to say
    results.to_csv(study / "results.csv", index=False)
    got = answer(QUESTION, load_study(study))
    assert got.tuned_apart == () and "tuned apart: lr" not in markdown([got]).split("\n\n")[0]


def test_the_rate_check_takes_the_paper_answers_again_at_one_rate(tmp_path):
    """scripts/rate_check.py on the committed studies: the aux study's baseline is the paper study's reduced
    baseline but for the rate (and not the naive one), and each row is the paired t-interval over the seeds both
    ran, by hand from the two results.csv files; the committed rate-check.md is what the script writes."""
    spec = importlib.util.spec_from_file_location("rate_check", ROOT / "scripts" / "rate_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.same_but_rate(("aux", "paper-4a-4d"), ("paper", "module-reduced_aux.enabled-on"), [0, 1, 2])
    assert not module.same_but_rate(("aux", "paper-4a-4d"), ("paper", "module-naive_aux.enabled-on"), [0])
    out = tmp_path / "rate-check.md"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "rate_check.py"), str(out)], check=True, capture_output=True)
    text = out.read_text()
    assert text == (ROOT / "results" / "studies" / "paper" / "rate-check.md").read_text()

    def errors(study: str, variant: str) -> dict[int, float]:
        frame = pd.read_csv(ROOT / "results" / "studies" / study / "results.csv")
        frame = frame[(frame["variant"] == variant) & (frame["status"] == "completed")]
        return {int(s): 100 * (1 - float(t)) for s, t in zip(frame["seed"], frame["test_top1"], strict=True)}

    reduced = errors("aux", "paper-4a-4d")
    rows = [  # the table's rows in order: (a, b)
        (reduced, errors("paper", "module-naive_aux.enabled-on")),
        (reduced, errors("paper", "naive-equal-macs")),
        (errors("paper", "module-reduced_aux.enabled-on"), reduced),
    ]
    table = [line for line in text.splitlines() if line.startswith("| ") and "(paired)" in line]
    assert len(table) == 3
    for line, (a, b) in zip(table, rows, strict=True):
        d = np.array([a[s] - b[s] for s in sorted(set(a) & set(b))])
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
        assert f"| {d.mean():+.2f} [{d.mean() - half:+.2f}, {d.mean() + half:+.2f}] (paired) |" in line


def test_runs_that_did_not_all_train_at_one_precision_are_said_beside_the_effect(tmp_path):
    # `precision: auto` resolved per machine: b's seed 2 ran where there is no native bf16 (fp32)
    study = tmp_path / "toy"
    _write_study(study, {"a": A, "b": B})
    for run in study.glob("*/seed-*"):
        precision = "fp32" if run.parent.name == "b" and run.name == "seed-2" else "bf16"
        (run / "config.json").write_text(json.dumps({"precision": precision}))
    got = answer(QUESTION, load_study(study))
    assert got.precisions == "a bf16, b bf16/fp32"
    assert "(3 seeds, paired) on test; trained at a bf16, b bf16/fp32 |" in markdown([got])
    (study / "b" / "seed-2" / "config.json").write_text(json.dumps({"precision": "bf16"}))  # all at one
    assert answer(QUESTION, load_study(study)).precisions is None
    for run in study.glob("a/seed-*"):  # a side without configs (older folders) beside a mixed one: still said
        (run / "config.json").unlink()
    (study / "b" / "seed-2" / "config.json").write_text(json.dumps({"precision": "fp32"}))
    assert answer(QUESTION, load_study(study)).precisions == "a ?, b bf16/fp32"
    for run in study.glob("b/seed-*"):  # no configs at all: nothing is claimed
        (run / "config.json").unlink()
    assert answer(QUESTION, load_study(study)).precisions is None
