"""Does successive halving pick the learning rate the full grid picks? (issue 26, part 1, on real data.)

Compares, for the paper study's baseline (reduced modules, aux on; Fashion-MNIST at the study scale), the rate that
successive halving chose in ``results/studies/paper/tuning.csv`` with the best of the full grid in
``results/studies/halving-check/tuning.csv`` (every candidate trained for the whole run), and writes the table to
``results/studies/halving-check/comparison.md``.

    python scripts/halving_check.py
Named by: results/studies/halving-check (run by scripts/run_studies.sh).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from inception_bench.store import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
VARIANT = "module-reduced_aux.enabled-on"


def main() -> None:
    halving_csv = ROOT / "results/studies/paper/tuning.csv"
    grid_csv = ROOT / "results/studies/halving-check/tuning.csv"
    for path in (halving_csv, grid_csv):
        if not path.exists():
            sys.exit(f"error: {path}: not there yet; run bash scripts/run_studies.sh paper halving-check")
    halving = pd.read_csv(halving_csv)
    grid = pd.read_csv(grid_csv)
    halving, grid = halving[halving["variant"] == VARIANT], grid[grid["variant"] == VARIANT]
    chosen = halving[halving["chosen"].astype(str) == "True"]
    if chosen.empty:  # the flag is written when the driver finishes the study's tuning; the last rung decides it
        full = halving[(halving["epochs"] == halving["epochs"].max()) & (halving["status"] == "completed")]
        chosen = full.loc[[full["val_top1"].idxmax()]] if len(full) else chosen
    done = grid[grid["status"] == "completed"]
    if chosen.empty or len(done) < len(grid) or grid.empty:
        sys.exit("error: the halving choice or the full grid is not finished yet; run the studies on")
    best = done.loc[done["val_top1"].idxmax()]
    lr_halving = float(chosen["tune:lr"].iloc[0])
    at_full = done[done["tune:lr"] == lr_halving]["val_top1"]
    lines = [
        f"# Successive halving vs the full grid ({VARIANT}, Fashion-MNIST, width 0.25, 32 px, 5 epochs, seed 0)",
        "",
        "| lr (per 256 images) | full grid: val top-1 after 5 epochs | halving: rung reached (epochs) |",
        "|---|---|---|",
    ]
    for lr in sorted(done["tune:lr"]):
        figure = float(done[done["tune:lr"] == lr]["val_top1"].iloc[0])
        reached = halving[halving["tune:lr"] == lr]["epochs"].max()
        lines.append(f"| {lr:g} | {100 * figure:.2f}% | {int(reached)} |")
    same = lr_halving == float(best["tune:lr"])
    gap = 100 * (float(best["val_top1"]) - float(at_full.iloc[0])) if len(at_full) else float("nan")
    lines += [
        "",
        f"Halving chose lr {lr_halving:g}; the full grid's best is lr {float(best['tune:lr']):g}: "
        + ("the same rate." if same else f"a different rate, {gap:.2f} points of val top-1 better at 5 epochs."),
        f"Cost: halving trained {int(halving['epochs'].sum())} epochs for this variant, the full grid "
        f"{int(grid['epochs'].sum())}.",
        f"The full grid's rates span {100 * (done['val_top1'].max() - done['val_top1'].min()):.2f} points of val top-1 "
        "(one seed each): a difference of that size between rates is within seed noise, so here the choice matters "
        "little.",
        "",
    ]
    text = "\n".join(lines)
    atomic_write_text(ROOT / "results/studies/halving-check/comparison.md", text)
    print(text)


if __name__ == "__main__":
    main()
