"""The report's figures (matplotlib, Agg backend), as PNG images: error vs multiply-adds with the Pareto front,
error vs parameters, validation curves with a band over seeds, and training throughput."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from inception_bench.document import Image
from inception_bench.report.load import Study, curves
from inception_bench.report.stats import pareto_front


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def plots(study: Study, rows: list[dict[str, Any]], slug: str) -> list[Image]:
    """The study's figures, named ``<slug>-<figure>.png``; ``rows`` are :func:`summarize`'s."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = []
    for key, label, fname in [
        ("ops", "multiply-adds (M)", "error-vs-macs"),
        ("params", "parameters (M)", "error-vs-params"),
    ]:
        if not rows:
            break
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        pts = [(r[key] / 1e6, r["top1_err"]) for r in rows]
        ax.errorbar(
            [p[0] for p in pts], [p[1] for p in pts], yerr=[r["top1_err_std"] or 0 for r in rows], fmt="o", capsize=3
        )
        for (x, y), r in zip(pts, rows, strict=True):
            ax.annotate(r["variant"], (x, y), fontsize=7, xytext=(4, 3), textcoords="offset points")
        if key == "ops":
            front = pareto_front(pts)
            ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "--", color="tab:red", label="Pareto front")
            ax.legend()
        ax.set_xscale("log")
        ax.set_xlabel(label + " (log)")
        ax.set_ylabel("top-1 error % (mean +- std over seeds)")
        ax.set_title(f"{slug}: error vs {label.split(' ')[0]}")
        images.append(Image(f"{slug}-{fname}.png", _png(fig)))
    by_variant = curves(study)
    if by_variant:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for variant, runs in by_variant.items():
            n = min(len(r) for r in runs)
            arr = np.array([r[:n] for r in runs]) * 100
            mean, std = arr.mean(0), (arr.std(0, ddof=1) if len(arr) > 1 else np.zeros(n))
            x = np.arange(1, n + 1)
            ax.plot(x, mean, label=variant)
            ax.fill_between(x, mean - std, mean + std, alpha=0.2)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation top-1 error % (band: +- std over seeds)")
        ax.set_title(f"{slug}: validation curves")
        ax.legend(fontsize=7)
        images.append(Image(f"{slug}-curves.png", _png(fig)))
    if rows:
        fig, ax = plt.subplots(figsize=(6.4, 0.5 + 0.35 * len(rows)))
        ax.barh([r["variant"] for r in rows], [r["images_per_sec"] for r in rows], color="tab:green")
        ax.set_xlabel("training images/s")
        ax.invert_yaxis()
        ax.set_title(f"{slug}: training throughput")
        images.append(Image(f"{slug}-throughput.png", _png(fig)))
    return images
