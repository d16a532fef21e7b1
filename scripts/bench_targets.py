"""Issue 6's GPU targets from an ``ibench bench`` CSV: the fastest setup of our models per mode, against the fp32
eager torchvision baseline measured in the same file, and its multiply-add rate as a fraction of the peak.

    python scripts/bench_targets.py results/bench/gpu-<date>/bench.csv
"""

from __future__ import annotations

import sys

import pandas as pd

TARGETS = {"train": 3.0, "infer": 4.0}


def main(path: str) -> None:
    f = pd.read_csv(path)
    f["compile_mode"] = f["compile_mode"].fillna("")
    for mode, target in TARGETS.items():
        tv = f[(f.model == "torchvision googlenet") & (f["mode"] == mode) & (f.precision == "fp32") & ~f["compile"]]
        ours = f[(f.model != "torchvision googlenet") & (f["mode"] == mode)]
        if tv.empty or ours.empty:
            print(f"{mode}: not measured (needs fp32 eager torchvision and one of our models)")
            continue
        best, base = ours.loc[ours.images_per_sec.idxmax()], tv.images_per_sec.iloc[0]
        setup = best.precision + (" + channels_last" if best.channels_last else "")
        setup += f" + compile ({best.compile_mode})" if best["compile"] else ""
        ratio = best.images_per_sec / base
        print(f"{mode}: {best.model}, {setup}, batch {best.batch_size}: {best.images_per_sec:,.0f} img/s = "
              f"{ratio:.2f}x the fp32 eager torchvision baseline ({base:,.0f} img/s), target {target}x: "
              f"{'met' if ratio >= target else 'MISSED'}; {best.tmacs_per_sec:.1f} TMAC/s = "
              f"{best.peak_fraction:.1%} of the dense {best.precision} peak")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
