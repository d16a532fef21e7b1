#!/usr/bin/env bash
# The CUDA path in one prepared script (aim: under 5 minutes on one H100): the benchmark grid (fp32 eager
# baseline, bf16 + channels_last, + torch.compile; torchvision's googlenet measured in the same runs), a
# torch.profiler breakdown of the fast path, and short trainings on synthetic 224x224 data and on digits.
# Usage: bash scripts/gpu_check.sh [OUT_DIR]     (default results/bench/gpu-<date>)
# Runs `ibench` if installed, else `python3 -m inception_bench` from this checkout. The lent GPU machines have
# torch, torchvision, typer, rich, pandas, scipy and matplotlib but (as of 2026-11-17) not pydantic or fvcore:
# carry wheels for pydantic, pydantic-core, annotated-types, typing-inspection, fvcore, yacs and termcolor
# (Python 3.12) as the device tool's README describes, and put them on PYTHONPATH.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/bench/gpu-$(date +%Y-%m-%d)}
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
IBENCH=${IBENCH:-$(command -v ibench || echo "$PY -m inception_bench")}
B=${BATCH:-128}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
  date -u; } | tee "$OUT/device.txt"

SPEC=specs/googlenet.yaml
rm -f "$OUT/bench.csv"
$IBENCH bench $SPEC --device cuda --batch-size $B --precision fp32 --steps 20 --warmup 5 -o "$OUT/bench.csv"
$IBENCH bench $SPEC --device cuda --batch-size $B --precision bf16 --channels-last --steps 20 --warmup 5 -o "$OUT/bench.csv"
$IBENCH bench $SPEC --device cuda --batch-size $B --precision bf16 --channels-last --compile --steps 20 --warmup 10 \
  -o "$OUT/bench.csv"
$PY - "$OUT/bench.csv" <<'PY' | tee "$OUT/targets.txt"
import sys
import pandas as pd
f = pd.read_csv(sys.argv[1])
for mode, target in (("train", 3.0), ("infer", 4.0)):
    base = f[(f.model == "torchvision googlenet") & (f["mode"] == mode) & (f.precision == "fp32")].images_per_sec.iloc[0]
    fast = f[(f.model != "torchvision googlenet") & (f["mode"] == mode) & (f["compile"])].iloc[0]
    print(f"{mode}: fast path {fast.images_per_sec:.0f} img/s = {fast.images_per_sec / base:.2f}x the fp32 eager "
          f"torchvision baseline ({base:.0f} img/s; target {target}x); {fast.tmacs_per_sec:.1f} TMAC/s = "
          f"{fast.peak_fraction:.1%} of the bf16 dense peak")
PY
$PY scripts/profile_step.py $SPEC --device cuda --precision bf16 --channels-last --batch-size $B --steps 5 \
  > "$OUT/profile.txt" 2>&1 || true
tail -n 1 "$OUT/profile.txt"

run() {  # name, then ibench train arguments
  local name=$1; shift
  rm -rf "$OUT/$name"
  $IBENCH train "$@" --device cuda --out "$OUT/$name" 2>&1 | tail -n 1
}
run train-synthetic-224 $SPEC --data synthetic --set num_classes=10 --epochs 1 --batch-size $B --workers 8
run train-digits specs/googlenet-small.yaml --data digits --epochs 8 --schedule cosine
rm -f "$OUT"/*/checkpoint.pt
$IBENCH report "$OUT/bench.csv" --out "$OUT/report" > /dev/null
cat "$OUT/targets.txt"
