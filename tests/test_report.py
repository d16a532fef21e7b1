"""``ibench report`` from real tiny ``ibench ablate`` runs: numbers, words, plots, HTML, bad input."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import SMALL
from scipy import stats
from typer.testing import CliRunner

from inception_bench.cli import app
from inception_bench.errors import IbenchError
from inception_bench.report import pareto_front, welch, write_report
from inception_bench.report.load import load_study
from inception_bench.report.stats import compare, multiplicity_note, summarize

runner = CliRunner()


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rep")
    raw = {
        "name": "tiny",
        "description": "naive vs reduced",
        "spec": str(SMALL),
        "data": "synthetic",
        "recipe": {"epochs": 2, "batch_size": 64, "workers": 0, "device": "cpu", "schedule": "cosine"},
        "seeds": [0, 1, 2],
        "set": {"width_mult": 0.125},
        "grid": {"module": ["reduced", "naive"]},
    }
    path = tmp / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = tmp / "out"
    result = runner.invoke(app, ["ablate", str(path), "--out", str(out), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    return out


def _errors(folder, variant, split="test"):
    # the report judges on the held-out test split when every run has one (synthetic data does)
    return [
        100 * (1 - json.loads((folder / variant / f"seed-{s}" / "final.json").read_text())[f"{split}_top1"])
        for s in (0, 1, 2)
    ]


def test_summary_numbers_match_run_records(grid, tmp_path):
    result = runner.invoke(app, ["report", str(grid), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(tmp_path / "r" / "summary.csv").set_index("variant")
    for variant in ("module-reduced", "module-naive"):
        errs = _errors(grid, variant)
        assert summary.loc[variant, "top1_err"] == pytest.approx(sum(errs) / 3)
        assert summary.loc[variant, "top1_err_std"] == pytest.approx(pd.Series(errs).std())
        assert summary.loc[variant, "seeds"] == 3
    # both variants ran seeds 0, 1, 2: the CI is the paired one over the per-seed differences (by hand below)
    a, b = _errors(grid, "module-naive"), _errors(grid, "module-reduced")
    low, high = _paired_by_hand(a, b)
    row = summary.loc["module-naive"]
    assert row["diff_method"] == "paired"
    assert row["diff_ci_low"] == pytest.approx(low, rel=1e-9)
    assert row["diff_ci_high"] == pytest.approx(high, rel=1e-9)
    md = (tmp_path / "r" / "report.md").read_text()
    assert "3 of 3 runs" not in md and "6 of 6 runs completed." in md
    assert "the reductions cut multiply-adds" in md and "Table 1 reproduction" in md
    assert "Errors are on the held-out test split" in md and "test top-1 error" in md
    for image in re.findall(r"!\[[^]]*\]\(([^)]+)\)", md):
        assert (tmp_path / "r" / image).stat().st_size > 1000
    assert sum(1 for _ in (tmp_path / "r").glob("*.png")) == 4


def _welch_by_hand(a: list[float], b: list[float]) -> tuple[float, float]:
    """The 95% Welch interval of mean(a) - mean(b): standard error from the sample variances, Welch-Satterthwaite
    degrees of freedom, Student's t quantile."""
    na, nb = len(a), len(b)
    ma, mb = sum(a) / na, sum(b) / nb
    va = sum((x - ma) ** 2 for x in a) / (na - 1) / na
    vb = sum((x - mb) ** 2 for x in b) / (nb - 1) / nb
    dof = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    half = stats.t.ppf(0.975, dof) * (va + vb) ** 0.5
    return ma - mb - half, ma - mb + half


def _paired_by_hand(a: list[float], b: list[float]) -> tuple[float, float]:
    """The 95% paired interval of mean(a - b): the differences' sample standard error, Student's t with n-1
    degrees of freedom."""
    d = [x - y for x, y in zip(a, b, strict=True)]
    n, m = len(d), sum(d) / len(d)
    half = stats.t.ppf(0.975, n - 1) * (sum((x - m) ** 2 for x in d) / (n - 1) / n) ** 0.5
    return m - half, m + half


def _welch_p_by_hand(a: list[float], b: list[float]) -> float:
    """Two-sided p of Welch's t: the difference over its standard error, Welch-Satterthwaite degrees of freedom."""
    na, nb = len(a), len(b)
    ma, mb = sum(a) / na, sum(b) / nb
    va = sum((x - ma) ** 2 for x in a) / (na - 1) / na
    vb = sum((x - mb) ** 2 for x in b) / (nb - 1) / nb
    dof = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    return 2 * stats.t.sf(abs(ma - mb) / (va + vb) ** 0.5, dof)


def _paired_p_by_hand(a: list[float], b: list[float]) -> float:
    """Two-sided p of the paired t: the mean difference over its standard error, n-1 degrees of freedom."""
    d = [x - y for x, y in zip(a, b, strict=True)]
    n, m = len(d), sum(d) / len(d)
    return 2 * stats.t.sf(abs(m) / (sum((x - m) ** 2 for x in d) / (n - 1) / n) ** 0.5, n - 1)


def _bh_by_hand(ps: list[float]) -> list[float]:
    """Benjamini-Hochberg q-values from the textbook: p_(i) m / i over the ranks, made monotone from the largest
    down, capped at 1; in the input's order."""
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    q, running = [0.0] * m, 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, ps[i] * m / rank)
        q[i] = running
    return q


def test_the_comparisons_taken_together_get_benjamini_hochberg_q_values(tmp_path):
    """Three variants against a baseline over 4 paired seeds: a clearly worse, b a little, c not; each row's p is the
    paired t-test's, its q the textbook Benjamini-Hochberg over the three, and the report and the sentence say which
    'real' differences survive the three comparisons."""
    base = [8.0, 8.4, 7.9, 8.2]
    shifts = {"a": [1.0, 1.1, 0.9, 1.05], "b": [0.3, 0.05, 0.35, 0.2], "c": [0.1, -0.2, 0.15, -0.1]}
    errors = {"base": base, **{v: [x + d for x, d in zip(base, s, strict=True)] for v, s in shifts.items()}}
    rows = [
        {
            "variant": v,
            "seed": seed,
            "status": "completed",
            "params": 1000,
            "ops": 5000,
            "test_top1": 1 - e / 100,
            "test_top5": 1.0,
            "val_top1": 1 - e / 100,
            "val_top5": 1.0,
            "train_images_per_sec": 100.0,
            "wall_seconds": 10.0,
        }
        for v, es in errors.items()
        for seed, e in enumerate(es)
    ]
    folder = tmp_path / "toy"
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    meta = {"name": "toy", "baseline": "base", "variants": list(errors), "axes": [], "seeds": [0, 1, 2, 3]}
    (folder / "ablation.json").write_text(json.dumps(meta))
    got = {r["variant"]: r for r in summarize(load_study(folder))}
    ps = [_paired_p_by_hand(errors[v], base) for v in "abc"]
    assert [got[v]["p"] for v in "abc"] == pytest.approx(ps, rel=1e-9)
    assert [got[v]["q"] for v in "abc"] == pytest.approx(_bh_by_hand(ps), rel=1e-9)
    assert got["base"]["q"] is None and got["base"]["p"] is None
    # by construction: a (p ~ 2e-4) and b (p ~ 0.042) exclude 0 on their own, c does not; b's q = 0.042 x 3 / 2 > 0.05
    assert got["a"]["real"] and got["b"]["real"] and not got["c"]["real"]
    assert got["a"]["q"] < 0.05 < got["b"]["q"]
    note = multiplicity_note(list(got.values()))
    assert note is not None and "3 comparisons" in note and f"{100 * (1 - 0.95**3):.0f}%" in note
    assert "Here 2 do: `a` keeps q < 0.05" in note and "`b` does not" in note
    assert multiplicity_note([got["base"], got["a"]]) is None  # one comparison: nothing to take together
    # the report says it under its table, the study README (from the report's summary.csv) under its own
    result = runner.invoke(app, ["report", str(folder), "--out", str(folder / "report")])
    assert result.exit_code == 0, result.output
    assert note in (folder / "report" / "report.md").read_text()
    script = Path(__file__).resolve().parents[1] / "scripts" / "study_readme.py"
    readme = subprocess.run([sys.executable, str(script), str(folder)], capture_output=True, text=True)
    assert readme.returncode == 0, readme.stderr
    assert note in (folder / "README.md").read_text()


def test_paired_when_the_seeds_match_else_welch():
    # each seed shifts both variants alike (a shared luck of +-3 points): a is 1 point worse on every seed
    luck = {0: 0.0, 1: 3.0, 2: -3.0, 3: 1.5}
    a = {s: 10.0 + v + (1.0 if s % 2 else 0.9) for s, v in luck.items()}
    b = {s: 9.0 + v for s, v in luck.items()}
    got = compare(a, b)
    assert got is not None and got.method == "paired" and got.n == 4
    assert (got.low, got.high) == pytest.approx(_paired_by_hand(list(a.values()), list(b.values())), rel=1e-9)
    assert got.real  # about 0.95 +- 0.09: clear once the shared luck is taken out ...
    welch_only = compare(a, {s + 10: v for s, v in b.items()})  # ... which unpaired runs cannot do
    assert welch_only is not None and welch_only.method == "Welch" and not welch_only.real
    assert (welch_only.low, welch_only.high) == pytest.approx(_welch_by_hand(list(a.values()), list(b.values())))
    assert compare({0: 1.0}, {0: 2.0}) is None  # one seed: no interval


def test_welch_interval_is_the_textbook_one():
    a, b = [10.0, 12.0, 11.5, 9.0], [14.0, 15.5, 13.0]
    diff, low, high, p = welch(a, b)
    assert diff == pytest.approx(sum(a) / 4 - sum(b) / 3)
    assert (low, high) == pytest.approx(_welch_by_hand(a, b), rel=1e-9)
    assert p == pytest.approx(_welch_p_by_hand(a, b), rel=1e-9)
    assert welch([1.0], [2.0, 3.0]) is None
    assert welch([2.0, 2.0], [1.0, 1.0]) == (1.0, 1.0, 1.0, 0.0)  # no spread: the interval is the point


def test_welch_with_one_variant_without_spread_is_quiet_and_textbook():
    """Seeds that all scored the same (common on small test splits) make scipy warn; the interval is still the
    textbook one, and a report must not print the warning."""
    same, spread = [2.6666666666666670] * 3, [1.0, 2.0, 3.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diff, low, high, _ = welch(same, spread)
    assert (low, high) == pytest.approx(_welch_by_hand(same, spread), rel=1e-9)


def test_html_is_self_contained(grid, tmp_path):
    write_report([grid], tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:|//)", page)
    assert "http://" not in page and "https://" not in page
    assert page.count("data:image/png;base64,") == 4
    assert 'class="sortable"' in page and "<script>" in page


def test_partial_and_failed_runs_are_listed(grid, tmp_path):
    part = tmp_path / "partial"
    shutil.copytree(grid, part)
    frame = pd.read_csv(part / "results.csv")
    frame.loc[0, "status"] = "diverged"
    frame["error"] = frame["error"].astype(object)
    frame.loc[0, "error"] = "training diverged in epoch 1"
    frame = frame.drop(index=5)
    frame.to_csv(part / "results.csv", index=False)
    write_report([part], tmp_path / "r")
    md = (tmp_path / "r" / "report.md").read_text()
    assert "4 of 5 runs completed. This is a partial report." in md
    assert "module-reduced seed 0: **diverged**: training diverged in epoch 1" in md
    assert "missing from results.csv: module-naive seed 2" in md


def test_eval_records_make_a_table3(grid, tmp_path):
    part = tmp_path / "with-eval"
    shutil.copytree(grid, part)
    record = {"models": 1, "crops": 10, "cost": 10, "top1_error": 0.25, "top5_error": 0.05, "images": 128}
    (part / "eval-10crop.json").write_text(json.dumps(record))
    run = next(part.glob("*/seed-0"))  # `ibench eval` of one run writes its record into the run's folder
    (run / "eval-1crop.json").write_text(json.dumps({**record, "crops": 1, "cost": 1, "top1_error": 0.5}))
    write_report([part], tmp_path / "r")
    md = (tmp_path / "r" / "report.md").read_text()
    assert "Table 3" in md and "| with-eval | val | 1 | 10 | 10 | 25.00 | 5.00 | 128 |" in md
    assert f"| with-eval/{run.parent.name}/seed-0 | val | 1 | 1 | 1 | 50.00 | 5.00 | 128 |" in md  # whose it is


def test_bad_inputs(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["report", str(empty), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "no results.csv and no run directory" in result.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.csv").write_text("this,is\nnot")
    result = runner.invoke(app, ["report", str(bad)])
    assert result.exit_code == 2 and "not an ibench results.csv" in result.stderr
    (bad / "results.csv").write_bytes(b"\x00\xff\xfe garbage")
    assert runner.invoke(app, ["report", str(bad)]).exit_code == 2
    with pytest.raises(IbenchError, match="not a folder"):
        write_report([tmp_path / "missing"], tmp_path / "r")
    (bad / "ablation.json").write_text("{}")
    result = runner.invoke(app, ["report", str(bad / "results.csv")])  # the ablation's file, not its folder
    assert result.exit_code == 2 and f"results.csv: an ablation's own file; give its folder ({bad})" in result.stderr
    (tmp_path / "taken").write_text("kept")
    result = runner.invoke(app, ["report", str(bad), "--out", str(tmp_path / "taken")])
    assert result.exit_code == 2 and "--out " in result.stderr and "taken: is a file; give a folder" in result.stderr
    assert (tmp_path / "taken").read_text() == "kept"


def test_odd_records_do_not_crash(grid, tmp_path):
    odd = tmp_path / "odd"
    shutil.copytree(grid, odd)
    frame = pd.read_csv(odd / "results.csv")
    frame.loc[0, "params"] = None  # a completed row without its metrics
    frame.drop(columns=["val_top5"]).to_csv(odd / "results.csv", index=False)
    (odd / "eval-1crop.json").write_text(json.dumps({"models": 1}))  # an eval record without its numbers
    metrics = odd / "module-naive" / "seed-1" / "metrics.jsonl"
    metrics.write_text(metrics.read_text() + json.dumps({"epoch": 9}) + "\n")  # a row without its accuracy
    meta = json.loads((odd / "ablation.json").read_text())
    (odd / "ablation.json").write_text(json.dumps({**meta, "seeds": [0, 1, 2, "x"]}))  # a seed that is no number
    write_report([odd, grid], tmp_path / "r")  # two studies of the same name
    md = (tmp_path / "r" / "report.md").read_text()
    assert "incomplete-record" in md and "Table 3" not in md and "module-naive seed x" in md
    assert len(list((tmp_path / "r").glob("tiny-2-*.png"))) == 4  # the second study's plots do not overwrite
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.count("<strong>tiny</strong> (") == 2 and "*tiny" not in page  # each study's answers, headed


def test_loose_run_directories_use_the_variant_folder(grid, tmp_path):
    loose = tmp_path / "loose"
    shutil.copytree(grid, loose)
    (loose / "results.csv").unlink()
    (loose / "ablation.json").unlink()
    write_report([loose], tmp_path / "r")
    summary = pd.read_csv(tmp_path / "r" / "summary.csv")
    assert set(summary["variant"]) == {"module-reduced", "module-naive"} and set(summary["seeds"]) == {3}


def test_loose_run_folders_named_from_a_relative_path_keep_their_curves(grid, tmp_path, monkeypatch):
    from inception_bench.report.load import curves, load_study

    loose = tmp_path / "flat"
    for name, run in (("r0", "module-naive/seed-0"), ("r1", "module-naive/seed-1")):
        shutil.copytree(grid / run, loose / name)  # not the <variant>/seed-<s> layout: found by run_dir alone
    monkeypatch.chdir(tmp_path)
    got = curves(load_study(Path("flat")))
    by_hand = [
        [1 - json.loads(line)["val_top1"] for line in (loose / n / "metrics.jsonl").read_text().splitlines()]
        for n in ("r0", "r1")
    ]
    assert sorted(got["module-naive"]) == sorted(by_hand) and len(by_hand[0]) == 2


def test_pareto_front():
    points = [(1.0, 10.0), (2.0, 8.0), (3.0, 9.0), (4.0, 5.0), (0.5, 20.0)]
    assert pareto_front(points) == [4, 0, 1, 3]  # (3, 9) is beaten by (2, 8)


def test_the_reader_sees_the_answers_first_with_readable_labels(grid, tmp_path):
    result = runner.invoke(app, ["report", str(grid), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    a, b = _errors(grid, "module-reduced"), _errors(grid, "module-naive")
    printed = result.stdout.split("Answers:", 1)[1]  # the terminal states the answer, plainly
    assert f"test top-1 error {sum(a) / 3:.2f}% reduced vs {sum(b) / 3:.2f}% naive (3 vs 3 runs)" in printed
    assert "**" not in printed
    md = (tmp_path / "r" / "report.md").read_text()
    headings = re.findall(r"^## (.+)$", md, flags=re.M)
    assert headings[0] == "Answers" and headings[1] == "tiny" and headings[-1].startswith("Table 1")
    answers = md.split("## tiny", 1)[0]
    assert "the reductions cut multiply-adds" in answers and "95% CI" in answers
    table = md.split("## tiny", 1)[1]
    assert "| reduced |" in table and "| naive |" in table  # the grid's axis values, not module-reduced
    assert "reduced = `module-reduced`" in table  # the key, for the run folders and results.csv


@pytest.mark.parametrize(
    ("axis", "value", "label"),
    [
        ("module", "naive", "naive"),
        ("aux.enabled", True, "aux on"),
        ("aux.enabled", "False", "aux off"),
        ("width_mult", 0.5, "width_mult 0.5"),
        ("layers.4a.5x5", 0, "4a.5x5 0"),
    ],
)
def test_axis_values_in_words(axis, value, label):
    from inception_bench.report.load import axis_label

    assert axis_label(axis, value) == label


def test_the_html_in_a_real_browser(grid, tmp_path):
    """Chromium, headless: the page loads with every figure decoded (a screenshot is taken and is not blank), the
    answers come first, and no table or figure is wider than the window."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("no Chromium here (Debian: apt-get install chromium; .ci/run installs it)")
    import subprocess

    import numpy as np
    from PIL import Image

    write_report([grid], tmp_path / "r")
    page = (tmp_path / "r" / "report.html").as_uri()
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2400",
    ]  # fmt: skip
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, *flags, f"--screenshot={shot}", page], capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2400, 1280) and pixels.std() > 10  # drawn, not a blank page
    # the DOM after scripts ran: headings in order, images with their decoded size written in by a probe script
    probe = tmp_path / "r" / "probe.html"
    probe.write_text(
        (tmp_path / "r" / "report.html")
        .read_text()
        .replace(
            "</body>",
            "<script>window.addEventListener('load',function(){document.body.setAttribute('data-probe',"
            "JSON.stringify({imgs:Array.from(document.images).map(function(i){return [i.naturalWidth,"
            "i.getBoundingClientRect().right]}),width:document.documentElement.scrollWidth,"
            "window:window.innerWidth}))})</script></body>",
        )
    )
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", "--virtual-time-budget=5000", probe.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", dom)
    assert headings[0] == "Answers" and headings[1] == "tiny"
    import html as html_lib

    found = json.loads(html_lib.unescape(re.search(r"data-probe=\"([^\"]+)\"", dom).group(1)))
    assert len(found["imgs"]) == 4 and all(w > 500 for w, _ in found["imgs"])  # decoded, at full resolution
    assert all(right <= found["window"] for _, right in found["imgs"]) and found["width"] <= found["window"]


def test_labels_name_grid_variants_by_their_values_and_keep_named_ones(tmp_path):
    from inception_bench.report.load import Study
    from inception_bench.store import AblationFolder

    frame = pd.DataFrame(
        {
            "variant": ["module-reduced_aux.enabled-on", "module-naive_aux.enabled-off", "lr-high", "module-x"],
            "module": ["reduced", "naive", "reduced", "reduced"],
            "aux.enabled": [True, False, True, True],
            "lr": [0.1, 0.1, 0.5, 0.1],
            "status": ["completed"] * 4,
        }
    )
    study = Study("s", AblationFolder(tmp_path), frame, {"axes": ["module", "aux.enabled", "lr"]})
    assert study.labels() == {
        "module-reduced_aux.enabled-on": "reduced, aux on",
        "module-naive_aux.enabled-off": "naive, aux off",
        "lr-high": "lr-high",  # a named variant (its name is not its lr's value)
        "module-x": "module-x",  # named like a grid variant, but not by its values
    }
    clash = pd.concat([frame, frame.iloc[[0]].assign(variant="module-reduced_aux.enabled-on_lr-0.1")])
    labels = Study("s", AblationFolder(tmp_path), clash, {"axes": ["module", "aux.enabled", "lr"]}).labels()
    assert labels["module-reduced_aux.enabled-on_lr-0.1"] == "reduced, aux on, lr 0.1"


def test_time_to_accuracy_from_the_runs_metrics(grid, tmp_path):
    # the default target: the baseline's median final validation top-1 minus one point, read from the run records
    finals = [
        json.loads((grid / "module-reduced" / f"seed-{s}" / "final.json").read_text())["val_top1"] for s in (0, 1, 2)
    ]
    target = sorted(finals)[1] - 0.01
    result = runner.invoke(app, ["report", str(grid), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(tmp_path / "r" / "summary.csv").set_index("variant")
    for variant in ("module-reduced", "module-naive"):
        epochs, seconds = [], []
        for s in (0, 1, 2):
            rows = [
                json.loads(line) for line in (grid / variant / f"seed-{s}" / "metrics.jsonl").read_text().splitlines()
            ]
            hit = next((i for i, r in enumerate(rows) if r["val_top1"] >= target), None)
            epochs.append(float("inf") if hit is None else rows[hit]["epoch"])
            seconds.append(float("inf") if hit is None else sum(r["seconds"] for r in rows[: hit + 1]))
        row = summary.loc[variant]
        assert row["tta_target"] == pytest.approx(target)
        assert row["tta_epochs"] == sorted(epochs)[1] and row["tta_seconds"] == pytest.approx(sorted(seconds)[1])
        assert row["tta_reached"] == sum(e != float("inf") for e in epochs)
    md = (tmp_path / "r" / "report.md").read_text()
    assert f"Time to accuracy: when validation top-1 first reached {100 * target:.2f}%" in md
    # a target given in percent, out of reach: every run 'not reached'
    result = runner.invoke(app, ["report", str(grid), "--out", str(tmp_path / "r2"), "--target-top1", "100"])
    assert result.exit_code == 0 and "| 0/3 | not reached |" in (tmp_path / "r2" / "report.md").read_text()
    result = runner.invoke(app, ["report", str(grid), "--out", str(tmp_path / "r3"), "--target-top1", "120"])
    assert result.exit_code == 2 and "--target-top1" in result.stderr
