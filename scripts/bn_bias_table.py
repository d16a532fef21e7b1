"""The before/after table of issue 25's check (``scripts/bn_bias_check.sh OUT``): for each case, the runs named
``<case>-<setting>-s<seed>`` in OUT, their validation and test top-1 (or their status when they did not complete) and
the means over seeds, as Markdown.

    python scripts/bn_bias_table.py results/bn-bias-check-2026-12-06
Named by: results/bn-bias-check-2026-12-06, docs/training.md.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np


def main(out: Path) -> None:
    runs: dict[tuple[str, str], list[tuple[int, dict]]] = {}
    for final in sorted(out.glob("*/final.json")):
        m = re.fullmatch(r"(.+)-(before|after|[a-z0-9.]+)-s(\d+)", final.parent.name)
        if m is None:
            continue
        runs.setdefault((m.group(1), m.group(2)), []).append((int(m.group(3)), json.loads(final.read_text())))
    print("| case | setting | seeds | val top-1 % (each) | test top-1 % (each) | mean val / test | train s (each) |")
    print("|---|---|---|---|---|---|---|")
    for (case, setting), found in sorted(runs.items()):
        found.sort(key=lambda x: x[0])
        done = [r for _, r in found if r["status"] == "completed"]

        means = (
            f"{100 * np.mean([r['val_top1'] for r in done]):.2f} / {100 * np.mean([r['test_top1'] for r in done]):.2f}"
            if len(done) == len(found)
            else "-"
        )
        seconds = ", ".join(f"{r['wall_seconds']:.0f}" for _, r in found)
        seeds = ",".join(str(s) for s, _ in found)
        tests = ", ".join(f"{100 * r['test_top1']:.2f}" if r.get("test_top1") is not None else "-" for _, r in found)
        vals = ", ".join(
            f"{100 * r['val_top1']:.2f}" if r["status"] == "completed" else f"{r['status']} ({100 * r['val_top1']:.1f})"
            for _, r in found
        )
        print(f"| {case} | {setting} | {seeds} | {vals} | {tests} | {means} | {seconds} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
