"""Issue 6's GPU targets from an ``ibench bench`` CSV: the fastest setup of our GoogLeNet models per mode (those whose
torchvision twin is googlenet), against the fp32 eager torchvision googlenet baseline on the same device and image
size in the same file, and its multiply-add rate as a fraction of the device's peak; then every setup of ours in that
mode against the same baseline (an A/B such as with and without ``--fuse-1x1`` reads off these lines).

    python scripts/bench_targets.py results/bench/gpu-<date>/bench.csv
Named by: results/bench/cpu-2026-11-28, results/bench/gpu-2026-11-27 (and tests/test_scripts.py).
"""

from __future__ import annotations

import math
import sys

import pandas as pd

from inception_bench.bench.rows import setup_label
from inception_bench.bench.setups import TORCHVISION as TV

TARGETS = {"train": 3.0, "infer": 4.0}


def main(path: str) -> None:
    f = pd.read_csv(path, dtype={"compile_mode": str})
    f["compile_mode"] = f["compile_mode"].fillna("") if "compile_mode" in f else ""
    eager = (f["compile"].astype(str) != "True") & (f["channels_last"].astype(str) != "True")
    f["reference"] = f["reference"].fillna(TV) if "reference" in f else TV  # before 2026-12-07: googlenet
    torchvision = f.model.str.startswith("torchvision ")
    eager_fp32_tv = (f.model == TV) & (f.precision == "fp32") & eager
    for mode, target in TARGETS.items():
        for _, base in f[eager_fp32_tv & (f["mode"] == mode)].drop_duplicates(["device", "image_size"]).iterrows():
            same = (f["mode"] == mode) & (f.device == base.device) & (f.image_size == base.image_size)
            ours = f[same & ~torchvision & (f.reference == TV)]  # the GoogLeNet specs, whose twin is the baseline
            if ours.empty:
                continue
            best = ours.loc[ours.images_per_sec.idxmax()]
            ratio = best.images_per_sec / base.images_per_sec
            fraction = best.peak_fraction
            peak = (
                "no known peak"
                if not isinstance(fraction, float) or math.isnan(fraction)
                else (f"{fraction:.1%} of the dense {best.precision} peak")
            )
            print(
                f"{mode} ({base.device}, {base.image_size}px): {best.model}, {setup_label(best.to_dict())}, batch "
                f"{best.batch_size}: {best.images_per_sec:,.0f} img/s = {ratio:.2f}x the fp32 eager torchvision "
                f"baseline ({base.images_per_sec:,.0f} img/s), target {target}x: "
                f"{'met' if ratio >= target else 'MISSED'}; {best.tmacs_per_sec:.1f} TMAC/s, {peak}"
            )
            for _, row in ours.sort_values("images_per_sec", ascending=False).iterrows():
                print(
                    f"  {row.model}, {setup_label(row.to_dict())}: {row.images_per_sec:,.0f} img/s = "
                    f"{row.images_per_sec / base.images_per_sec:.2f}x, step {row.step_ms_median:.2f} ms "
                    f"(IQR {row.step_ms_iqr:.2f})"
                )


if __name__ == "__main__":
    main(sys.argv[1])
