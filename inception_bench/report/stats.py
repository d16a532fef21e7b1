"""The numbers of a report: per-variant summaries over seeds, differences with their intervals, and the paper's
two questions answered from them.

Conventions: errors are ``1 - accuracy`` in percent, on the study's :attr:`~inception_bench.report.load.Study.split`
(the held-out test split when every run has one, else validation); "mean +- std" is over seeds (sample std, n-1). The
difference to the baseline variant is the difference of mean top-1 errors with a 95% interval, called real when the
interval excludes 0: a *paired* t-interval over the per-seed differences (``scipy.stats.ttest_rel``) when both
variants ran the same seeds (2 or more; a seed fixes the data order and the initialisation stream, so the two runs of
one seed share their luck), else Welch's t-interval (``scipy.stats.ttest_ind(equal_var=False)``). Each difference
also has its test's two-sided p-value, and the study's comparisons with its baseline a q-value: Benjamini-Hochberg's
false-discovery control across them (``scipy.stats.false_discovery_control``), since with k comparisons at 95% each,
about 1 - 0.95^k of studies with no real difference anywhere would show at least one "real" one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from inception_bench.report.load import Study, axis_label
from inception_bench.store import RunStatus

ALPHA = 0.05  # each interval's chance of missing the true difference (95% intervals), and the q-values' level


class Interval(NamedTuple):
    """A difference of means (a - b), its 95% interval and its test's two-sided p-value."""

    diff: float
    low: float
    high: float
    p: float


def _pointlike(diff: float) -> Interval:
    """No spread: the interval is the point (scipy's would be undefined), p 0 unless there is no difference."""
    return Interval(diff, diff, diff, 1.0 if diff == 0 else 0.0)


def welch(a: list[float], b: list[float]) -> Interval | None:
    """Difference of means (a - b), its 95% Welch interval and two-sided p-value; None with fewer than 2 values in
    either."""
    if len(a) < 2 or len(b) < 2:
        return None
    diff = float(np.mean(a) - np.mean(b))
    if np.var(a) == 0 and np.var(b) == 0:
        return _pointlike(diff)
    with warnings.catch_warnings():
        # one variant whose seeds all scored the same (var 0) is a valid Welch case; scipy warns about it anyway
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        test = stats.ttest_ind(a, b, equal_var=False)
        ci = test.confidence_interval(1 - ALPHA)
    return Interval(diff, float(ci.low), float(ci.high), float(test.pvalue))


@dataclass(frozen=True)
class Difference:
    """A difference of means (a - b) with its 95% interval and how it was computed: ``paired`` (per-seed
    differences, ``n`` pairs) or ``Welch`` (``n`` the smaller side's runs)."""

    diff: float
    low: float
    high: float
    method: str
    n: int
    p: float | None = None  # the test's two-sided p-value

    @property
    def real(self) -> bool:
        return self.low > 0 or self.high < 0

    def text(self) -> str:
        return f"{self.diff:+.2f} [{self.low:+.2f}, {self.high:+.2f}]"


def paired(a: dict[Any, float], b: dict[Any, float]) -> Interval | None:
    """Mean of the per-key differences a[k] - b[k], its 95% t-interval and two-sided p-value, over the keys both
    have (2 or more)."""
    keys = [k for k in a if k in b]
    if len(keys) < 2:
        return None
    d = np.array([a[k] - b[k] for k in keys], dtype=float)
    mean = float(d.mean())
    if np.all(d == d[0]):
        return _pointlike(mean)
    test = stats.ttest_rel([a[k] for k in keys], [b[k] for k in keys])
    ci = test.confidence_interval(1 - ALPHA)
    return Interval(mean, float(ci.low), float(ci.high), float(test.pvalue))


def compare(a: dict[Any, float], b: dict[Any, float]) -> Difference | None:
    """a - b by seed (``{seed: value}``): paired when both sides have the same seeds, 2 or more; else Welch's
    (None when either side has fewer than 2 runs)."""
    if set(a) == set(b) and (i := paired(a, b)) is not None:
        return Difference(i.diff, i.low, i.high, "paired", len(a), i.p)
    if (i := welch(list(a.values()), list(b.values()))) is not None:
        return Difference(i.diff, i.low, i.high, "Welch", min(len(a), len(b)), i.p)
    return None


def _by_seed(frame: Any, column: str) -> dict[Any, float]:
    return {seed: 100 * (1 - float(v)) for seed, v in zip(frame["seed"], frame[column], strict=True)}


def _std(values: list[float]) -> float | None:
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def _errors(accuracies: Any) -> list[float]:
    return [100 * (1 - float(v)) for v in accuracies]


def summarize(study: Study) -> list[dict[str, Any]]:
    """One row per variant: params, MACs, errors as mean +- std over seeds, speed, difference to baseline."""
    done = study.completed()
    variants = list(dict.fromkeys(study.meta.get("variants") or list(study.frame["variant"])))
    baseline = study.meta.get("baseline") or (variants[0] if variants else None)
    top1, top5 = f"{study.split}_top1", f"{study.split}_top5"
    base_err = _by_seed(done[done["variant"] == baseline], top1)
    rows = []
    for variant in variants:
        mine = done[done["variant"] == variant]
        if mine.empty:
            continue
        e1, e5 = _errors(mine[top1]), _errors(mine[top5])
        diff = compare(_by_seed(mine, top1), base_err) if variant != baseline else None
        rows.append(
            {
                "variant": variant,
                "baseline": variant == baseline,
                "seeds": len(mine),
                "params": int(mine["params"].iloc[0]),
                "ops": int(mine["ops"].iloc[0]),
                "top1_err": float(np.mean(e1)),
                "top1_err_std": _std(e1),
                "top5_err": float(np.mean(e5)),
                "top5_err_std": _std(e5),
                "images_per_sec": float(mine["train_images_per_sec"].mean()),
                "wall_seconds": float(mine["wall_seconds"].mean()),
                "diff_top1_err": diff.diff if diff else None,
                "diff_ci_low": diff.low if diff else None,
                "diff_ci_high": diff.high if diff else None,
                "diff_method": diff.method if diff else None,
                "real": diff.real if diff else None,
                "p": diff.p if diff else None,
            }
        )
    tested = [r for r in rows if r["p"] is not None]
    q = stats.false_discovery_control([r["p"] for r in tested]) if tested else []
    for row in rows:
        row["q"] = None
    for row, value in zip(tested, q, strict=True):
        row["q"] = float(value)
    return rows


def multiplicity_note(rows: list[dict[str, Any]]) -> str | None:
    """A sentence on the study's comparisons with its baseline taken together (None with fewer than 2): how many
    of those whose interval excludes 0 keep q < :data:`ALPHA` under Benjamini-Hochberg across all of them."""
    tested = [r for r in rows if r.get("q") is not None]
    if len(tested) < 2:
        return None
    k, real = len(tested), [r for r in tested if r["real"]]
    text = (
        f"{k} comparisons with the baseline, each interval {100 * (1 - ALPHA):.0f}% on its own: with no real "
        "difference anywhere, about "
        f"{100 * (1 - (1 - ALPHA) ** k):.0f}% of such studies would show at least one interval excluding 0. "
    )
    if not real:
        return text + "Here none does."
    kept = [r["variant"] for r in real if r["q"] < ALPHA]
    lost = [r["variant"] for r in real if r["q"] >= ALPHA]

    def verb(names: list[str], one: str, many: str) -> str:
        return f"{', '.join(f'`{n}`' for n in names)} {one if len(names) == 1 else many}"

    bh = f"q < {ALPHA:g} under Benjamini-Hochberg's false-discovery control across the {k}"
    parts = [f"{verb(kept, 'keeps', 'keep')} {bh}"] if kept else []
    if lost:
        parts.append(f"{verb(lost, 'does', 'do')} not{'' if kept else ' keep ' + bh}: within the chance of {k} tries")
    return text + f"Here {len(real)} {'does' if len(real) == 1 else 'do'}: " + "; ".join(parts) + "."


def _runs(study: Study, where: dict[str, Any]) -> list[Any]:
    """Completed runs whose axis columns equal ``where`` (compared as lower-case text)."""
    frame = study.frame
    mask = frame["status"] == RunStatus.completed
    for column, value in where.items():
        if column not in frame.columns:
            return []
        mask &= frame[column].astype(str).str.lower() == str(value).lower()
    return list(frame[mask].itertuples())


def _compare_text(a_runs: list[Any], b_runs: list[Any], labels: tuple[str, str], split: str) -> str:
    err_a = {r.seed: 100 * (1 - float(getattr(r, f"{split}_top1"))) for r in a_runs}
    err_b = {r.seed: 100 * (1 - float(getattr(r, f"{split}_top1"))) for r in b_runs}
    text = (
        f"{split} top-1 error {np.mean(list(err_a.values())):.2f}% {labels[0]} vs "
        f"{np.mean(list(err_b.values())):.2f}% {labels[1]} ({len(err_a)} vs {len(err_b)} runs)"
    )
    diff = compare(err_a, err_b)
    if diff is None:
        return text + ", too few runs for a confidence interval"
    verdict = "a real difference" if diff.real else "not distinguishable from noise"
    how = f"paired over {diff.n} seeds" if diff.method == "paired" else "Welch"
    return text + f", difference {diff.diff:+.2f} points, 95% CI [{diff.low:+.2f}, {diff.high:+.2f}] ({how}): {verdict}"


QUESTIONS = [  # (axis, value a, value b, what it buys, labels of a and b)
    ("module", "reduced", "naive", "the 1x1 dimension reductions (reduced vs naive modules)", ("reduced", "naive")),
    ("aux.enabled", True, False, "the auxiliary classifiers (on vs off)", ("with", "without")),
]


def answer_questions(study: Study) -> list[str]:
    """The paper's two questions in words, from the numbers, where the study varies that axis. Each comparison
    holds the other axes fixed (one clause per combination of them)."""
    out = []
    axes = study.axes
    for column, a, b, what, labels in QUESTIONS:
        if column not in axes:
            continue
        others = [x for x in axes if x != column]
        combos = (
            [
                {str(k): v for k, v in c.items()}
                for c in study.frame[others].astype(str).drop_duplicates().to_dict("records")
            ]
            if others
            else [{}]
        )
        clauses = []
        for combo in combos:
            ra, rb = _runs(study, {column: a, **combo}), _runs(study, {column: b, **combo})
            if ra and rb:
                where = ", ".join(axis_label(k, v) for k, v in combo.items())
                clauses.append((f"with {where}: " if where else "") + _compare_text(ra, rb, labels, study.split))
        if not clauses:
            continue
        text = f"**{what.capitalize()}**: "
        if column == "module":
            ra, rb = _runs(study, {column: a}), _runs(study, {column: b})
            text += (
                f"the reductions cut multiply-adds {rb[0].ops / ra[0].ops:.1f}x ({rb[0].ops / 1e6:.1f}M -> "
                f"{ra[0].ops / 1e6:.1f}M) and parameters {rb[0].params / ra[0].params:.1f}x ({int(rb[0].params):,} -> "
                f"{int(ra[0].params):,}); "
            )
        out.append(text + "; ".join(clauses) + ".")
    return out


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both cost (x) and error (y), lower being better."""
    front = []
    for i, (x, y) in enumerate(points):
        if not any((x2 <= x and y2 <= y) and (x2 < x or y2 < y) for j, (x2, y2) in enumerate(points) if j != i):
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def sensitivity(study: Study) -> tuple[list[str], list[list[str]]] | None:
    """The tuning table: one row per variant, one column per candidate (its validation top-1 % at each rung it
    reached, joined by ' > '; "stopped" where successive halving dropped it; the chosen one marked *), then the
    chosen values; None when the study tuned nothing. A tuning.csv without rungs (a grid) is one rung."""
    tuning = study.tuning
    if tuning is None or tuning.empty:
        return None
    keys = [c for c in tuning.columns if c.startswith("tune:")]
    tuning = tuning.assign(rung=tuning["rung"] if "rung" in tuning.columns else 1)
    combos = [tuple(c) for c in tuning[keys].astype(str).drop_duplicates().itertuples(index=False)]
    names = [", ".join(f"{k.removeprefix('tune:')}={v}" for k, v in zip(keys, c, strict=True)) for c in combos]
    header = ["variant", *names, "chosen"]
    rows = []
    for variant in dict.fromkeys(tuning["variant"]):
        mine = tuning[tuning["variant"] == variant]
        last_rung = int(mine["rung"].max())
        cells, chosen = [], "none completed"
        for combo in combos:
            runs = mine[(mine[keys].astype(str).apply(tuple, axis=1) == combo)].sort_values("rung")
            figures = [_tuning_figure(r) for r in runs.to_dict("records")]
            cell = " > ".join(figures) or "-"
            if len(runs) and int(runs["rung"].max()) < last_rung and runs.iloc[-1]["status"] == RunStatus.completed:
                cell += " (stopped)"
            if runs["chosen"].astype(bool).any():
                cell += " *"
                chosen = ", ".join(f"{k.removeprefix('tune:')}={v}" for k, v in zip(keys, combo, strict=True))
            cells.append(cell)
        rows.append([str(variant), *cells, chosen])
    return header, rows


def _tuning_figure(run: dict[str, Any]) -> str:
    top1 = run["val_top1"]
    if run["status"] == RunStatus.completed and isinstance(top1, float) and top1 == top1:  # not NaN
        return f"{100 * top1:.1f}"
    return str(run["status"])


def tuning_note(study: Study) -> str:
    """The sentence above the tuning table: how the candidates were tried (a grid, or successive halving with its
    rungs) and what the cells hold."""
    halving = study.meta.get("halving")
    if not halving:
        return (
            "Tuning: each variant trained every candidate once (first seed) and was run at the candidate with the best "
            "validation top-1 (marked *). Validation top-1 % per candidate (the sensitivity):"
        )
    shares = [f"{share:g}" for share in halving["rungs"]]
    tuning = study.tuning
    trained: dict[int, int] = {}  # rung (from 1) -> the epochs its runs trained, as tuning.csv records them
    if tuning is not None and {"rung", "epochs"} <= set(tuning.columns):
        firsts = tuning.groupby("rung")["epochs"].first()
        trained = {int(r): int(e) for r, e in zip(firsts.index, firsts, strict=True)}
    lengths = [
        f"{trained[i]} epoch{'' if trained[i] == 1 else 's'}" if i in trained else f"{share} of the run's epochs"
        for i, share in enumerate(shares, start=1)
    ]
    longer = f", then at each rung the best {halving['keep']:g} of them a longer one: {', then '.join(lengths[1:])}"
    return (
        f"Tuning by successive halving: each variant trained every candidate (first seed) as a complete schedule of "
        f"{lengths[0]}{longer if len(lengths) > 1 else ''} (rungs of {', '.join(shares)} of the run's epochs, "
        "rounded); the best of the last rung was chosen (marked *). Validation top-1 % at each "
        "rung a candidate reached, joined by >; (stopped) where halving dropped it:"
    )
