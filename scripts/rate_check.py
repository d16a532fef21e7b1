"""Do the paper study's answers hold at one learning rate? (issue 26: tuning on one seed picks a rate at random.)

The paper study tuned each variant's rate on seed 0; its reduced baseline (reduced modules, aux on) was tuned to
0.6 and the naive variants its answers compare it with (aux on, and at equal multiply-adds) to 0.3, so those
answers compare rates as well as modules. The aux study trained the same reduced network at 0.3 (its baseline
``paper-4a-4d``, seeds 0-2; the script checks, seed by seed, that those runs differ from the paper study's in the
rate alone), so the answers can be taken again at one rate, paired over the seeds both ran. Writes
``results/studies/paper/rate-check.md`` (or the file given).

    python scripts/rate_check.py [OUT.md]
Named by: results/studies/paper (its ablation file's comment; run by scripts/run_studies.sh).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from inception_bench.report.stats import compare
from inception_bench.run.settings import portable_recipe
from inception_bench.spec import Spec
from inception_bench.store import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
STUDIES = ROOT / "results" / "studies"
REDUCED_03 = ("aux", "paper-4a-4d")  # the paper study's reduced baseline, at lr 0.3
REDUCED_06 = ("paper", "module-reduced_aux.enabled-on")
# (what is compared, a, b): a - b in points of test top-1 error, as the README's answers are
CHECKS = [
    ("Reduced vs naive modules, same widths (aux on)", REDUCED_03, ("paper", "module-naive_aux.enabled-on")),
    ("Reduced vs naive at equal multiply-adds (naive at width 0.08)", REDUCED_03, ("paper", "naive-equal-macs")),
    ("The reduced baseline at the paper study's rate vs at 0.3 (the rate alone)", REDUCED_06, REDUCED_03),
]


def runs(where: tuple[str, str]) -> pd.DataFrame:
    """The completed runs of one study's variant, from its results.csv."""
    results = pd.read_csv(STUDIES / where[0] / "results.csv")
    return results[(results["variant"] == where[1]) & (results["status"] == "completed")]


def _request(where: tuple[str, str], seed: int) -> dict:
    path = STUDIES / where[0] / where[1] / f"seed-{seed}" / "request.json"
    if not path.is_file():
        sys.exit(f"error: {path}: missing; the committed run folder lacks its request")
    return json.loads(path.read_text())


def same_but_rate(a: tuple[str, str], b: tuple[str, str], seeds: list[int]) -> bool:
    """Whether the two variants' runs of each seed were planned with the same spec, the same portable recipe but
    for ``lr``, and the same seed."""
    for seed in seeds:
        requests = [_request(where, seed) for where in (a, b)]
        specs = [Spec.recorded(r.get("spec")) for r in requests]
        recipes = [{k: v for k, v in portable_recipe(r.get("recipe")).items() if k != "lr"} for r in requests]
        if specs[0] != specs[1] or recipes[0] != recipes[1]:
            return False
    return True


def rate(frame: pd.DataFrame) -> str:
    """The learning rates a variant's runs trained at, as results.csv's ``tuned:lr`` column has them ("-": none)."""
    values = frame["tuned:lr"].dropna() if "tuned:lr" in frame else []
    return "/".join(sorted({f"{v:g}" if isinstance(v, float) else str(v) for v in values})) or "-"


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else STUDIES / "paper" / "rate-check.md"
    for study in {s for _, a, b in CHECKS for s, _ in (a, b)}:
        if not (STUDIES / study / "results.csv").exists():
            sys.exit(f"error: {STUDIES / study}/results.csv: not there; run bash scripts/run_studies.sh {study}")
    shared = sorted(set(runs(REDUCED_03)["seed"]) & set(runs(REDUCED_06)["seed"]))
    if not same_but_rate(REDUCED_03, REDUCED_06, shared):
        sys.exit(f"error: {'/'.join(REDUCED_03)} and {'/'.join(REDUCED_06)} differ in more than the rate")
    lines = [
        "# The paper study's answers at one learning rate",
        "",
        "The paper study tuned each variant's rate on one seed: its reduced baseline to 0.6, the naive variants its "
        "answers compare it with (aux on, and at equal multiply-adds) to 0.3. The aux study trained the same reduced "
        "network at 0.3 (`aux/paper-4a-4d`: the same spec, recipe and seed but the rate, checked from each seed's "
        "request.json), so here each comparison is taken again at one rate, paired over the seeds both sides ran. "
        "Test top-1 error, a - b in points, 95% t-interval.",
        "",
        "| comparison | a (lr) | b (lr) | seeds | a - b [95% CI] |",
        "|---|---|---|---|---|",
    ]
    for label, a, b in CHECKS:
        ra, rb = runs(a), runs(b)
        err_a = {s: 100 * (1 - t) for s, t in zip(ra["seed"], ra["test_top1"], strict=True)}
        err_b = {s: 100 * (1 - t) for s, t in zip(rb["seed"], rb["test_top1"], strict=True)}
        both = sorted(set(err_a) & set(err_b))
        got = compare({s: err_a[s] for s in both}, {s: err_b[s] for s in both})
        effect = "-" if got is None else f"{got.text()} ({got.method})"
        lines.append(
            f"| {label} | `{'/'.join(a)}` ({rate(ra)}) | `{'/'.join(b)}` ({rate(rb)}) | "
            f"{', '.join(map(str, both))} | {effect} |"
        )
    lines += ["", "Regenerate: `python scripts/rate_check.py` (from the committed results.csv files).", ""]
    atomic_write_text(out, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
