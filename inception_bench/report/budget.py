"""Expected best validation accuracy as a function of the tuning budget (Dodge et al. 2019, "Show your work"):
had a variant tried only ``n`` of its candidates, drawn at random (with replacement) from those it did try, what
would the best of them be, in expectation? A ranking of variants that flips between small and large ``n`` depends
on the tuning budget.

With the ``N`` figures of one variant sorted, ``v(1) <= ... <= v(N)``, the best of ``n`` draws is ``v(i)`` with
probability ``(i/N)^n - ((i-1)/N)^n``. The figures are validation top-1 fractions of runs of one length: the
candidates' full runs when every candidate had one (a grid), else the first rung of successive halving (every
candidate, the rung's epochs). A candidate that diverged or did not learn counts at its recorded validation top-1,
or 0 when it has none (that value gave nothing); one that failed (a crash, not the value's doing) is left out.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from inception_bench.store import RunStatus


def expected_best(values: list[float], n: int) -> float:
    """The expected maximum of ``n`` draws with replacement from ``values``."""
    v, total = sorted(values), len(values)
    return sum(x * ((i / total) ** n - ((i - 1) / total) ** n) for i, x in enumerate(v, start=1))


def _figures(runs: pd.DataFrame) -> list[float]:
    out = []
    for r in runs.to_dict("records"):
        top1 = r.get("val_top1")
        figure = float(top1) if isinstance(top1, float) and top1 == top1 else None  # NaN: none
        if r["status"] == RunStatus.completed and figure is not None:
            out.append(figure)
        elif r["status"] in (RunStatus.diverged, RunStatus.not_learning):
            out.append(figure if figure is not None else 0.0)
    return out


def budget_curves(
    tuning: pd.DataFrame | None, halving: bool | None = None
) -> tuple[str, dict[str, list[float]]] | None:
    """Per variant, the expected best validation top-1 after n = 1 .. N candidates, and what the figures are (the
    full runs, or the first rung and its epochs); None without a tuning table. ``halving``: whether the ablation
    tunes by successive halving (None: as the table shows, by a rung past the first; while only the first rung has
    run, only the ablation knows)."""
    if tuning is None or tuning.empty:
        return None
    rung = tuning["rung"] if "rung" in tuning.columns else pd.Series(1, index=tuning.index)
    halved = bool((rung > 1).any()) if halving is None else halving
    basis = "the candidates' full runs"
    if halved:
        first = tuning[rung == 1]
        epochs = sorted({int(e) for e in first["epochs"]}) if "epochs" in first.columns else []
        basis = "the first rung of successive halving" + (f" ({'/'.join(map(str, epochs))} epochs)" if epochs else "")
        tuning = first
    curves: dict[str, list[float]] = {}
    for variant in dict.fromkeys(tuning["variant"]):
        figures = _figures(tuning[tuning["variant"] == variant])
        if figures:
            curves[str(variant)] = [expected_best(figures, n) for n in range(1, len(figures) + 1)]
    return basis, curves


def budget_table(
    tuning: pd.DataFrame | None, labels: dict[str, str], halving: bool | None = None
) -> tuple[str, list[str], list[list[str]]] | None:
    """The report's table: one row per variant, one column per budget n (validation top-1 %)."""
    got = budget_curves(tuning, halving)
    if got is None or not got[1]:
        return None
    basis, curves = got
    width = max(len(c) for c in curves.values())
    header = ["variant", *[f"n={n}" for n in range(1, width + 1)]]
    rows: list[list[Any]] = [
        [labels.get(v, v), *[f"{100 * x:.2f}" for x in c], *[""] * (width - len(c))] for v, c in curves.items()
    ]
    return basis, header, rows
