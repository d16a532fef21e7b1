"""The report's figures (matplotlib, Agg backend), as PNG images: error vs multiply-adds with the Pareto front,
error vs parameters, validation curves with a band over seeds, and training throughput."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from inception_bench.document import Image
from inception_bench.report.load import Study, bench_speeds, curves
from inception_bench.report.stats import pareto_front

FIGSIZE = (8.0, 4.8)  # inches: a page's width at 150 dpi
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")  # one per ten variants (matplotlib cycles ten colours)
LINESTYLES = ("-", "--", ":", "-.")


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def plots(study: Study, rows: list[dict[str, Any]], slug: str, labels: dict[str, str] | None = None) -> list[Image]:
    """The study's figures, named ``<slug>-<figure>.png``; ``rows`` are :func:`summarize`'s, ``labels`` the
    variants' names for a reader. Sized for a page (8 x 4.8 in at 150 dpi); variants are told apart by colour and
    a legend beside the axes, not by text on the points, so that no label overlaps another."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    labels = labels or {}

    def name(variant: str) -> str:
        return labels.get(variant, variant)

    def legend(ax: Any) -> None:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)

    images = []
    for key, label, fname in [
        ("ops", "multiply-adds (M)", "error-vs-macs"),
        ("params", "parameters (M)", "error-vs-params"),
    ]:
        if not rows:
            break
        fig, ax = plt.subplots(figsize=FIGSIZE)
        pts = [(r[key] / 1e6, r["top1_err"]) for r in rows]
        for i, ((x, y), r) in enumerate(zip(pts, rows, strict=True)):
            marker = MARKERS[(i // 10) % len(MARKERS)]  # colours repeat after 10: the marker tells them apart
            ax.errorbar([x], [y], yerr=[r["top1_err_std"] or 0], fmt=marker, capsize=3, label=name(r["variant"]))
        if key == "ops":
            front = pareto_front(pts)
            ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "--", color="0.4", label="Pareto front")
        legend(ax)
        ax.set_xscale("log")
        # plain numbers at 1, 2, 3 and 5 of each decade (not 3x10^1): what a reader reads off a log axis
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel(label + " (log)")
        ax.set_ylabel(f"{study.split} top-1 error %\n(mean +- std over seeds)")
        ax.set_title(f"{slug}: error vs {label.split(' ')[0]}")
        ax.grid(alpha=0.3)
        images.append(Image(f"{slug}-{fname}.png", _png(fig)))
    by_variant = curves(study)
    if by_variant:
        fig, ax = plt.subplots(figsize=FIGSIZE)
        for i, (variant, runs) in enumerate(by_variant.items()):
            n = min(len(r) for r in runs)
            arr = np.array([r[:n] for r in runs]) * 100
            mean, std = arr.mean(0), (arr.std(0, ddof=1) if len(arr) > 1 else np.zeros(n))
            x = np.arange(1, n + 1)
            ax.plot(x, mean, label=name(variant), linestyle=LINESTYLES[(i // 10) % len(LINESTYLES)])
            ax.fill_between(x, mean - std, mean + std, alpha=0.2)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation top-1 error %\n(band: +- std over seeds)")
        ax.set_title(f"{slug}: validation curves")
        ax.grid(alpha=0.3)
        legend(ax)
        images.append(Image(f"{slug}-curves.png", _png(fig)))
    if rows:
        speeds = bench_speeds(study)  # the variants timed in the same interleaved rounds, where the study has it
        timed = bool(speeds) and all(r["variant"] in speeds for r in rows)
        fig, ax = plt.subplots(figsize=(FIGSIZE[0], 1.0 + 0.4 * len(rows)))
        values = [speeds[r["variant"]] if timed else r["images_per_sec"] for r in rows]
        ax.barh([name(r["variant"]) for r in rows], values, color="tab:green")
        ax.set_xlabel("training images/s " + ("(bench.csv, interleaved)" if timed else "(the runs' own)"))
        ax.invert_yaxis()
        ax.set_title(f"{slug}: training throughput")
        images.append(Image(f"{slug}-throughput.png", _png(fig)))
    return images
