#!/usr/bin/env bash
# Named by: results/bench/cpu-2026-12-01, docs/performance.md, docs/bench.md.
# The CPU benchmark table of issue 13: the paper's spec at 224 px (batch 16) and the small spec at 32 px (batch 64)
# in fp32 eager (the baseline, measured in every command), bf16, bf16 + channels_last, and + compile, with
# torchvision's googlenet beside them in the default command; then `ibench report` of the CSV.
# Usage: bash scripts/cpu_bench.sh [OUT_DIR]   (default results/bench/cpu-<date>; about 15 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/bench/cpu-$(date +%Y-%m-%d)}
IBENCH=${IBENCH:-$(command -v ibench || echo "python3 -m inception_bench")}
mkdir -p "$OUT"
rm -f "$OUT/bench.csv"
lscpu > "$OUT/lscpu.txt"
for target in "paper --batch-size 16" "small --image-size 32 --batch-size 64"; do
  read -r -a T <<< "$target"
  # the defaults: bf16 (auto) + channels_last, compiled inference (auto), torchvision beside; phases of a step
  $IBENCH bench "${T[@]}" --detail -o "$OUT/bench.csv"
  # bf16 alone (contiguous layout, eager)
  $IBENCH bench "${T[@]}" --precision bf16 --no-channels-last --no-compile --no-torchvision -o "$OUT/bench.csv"
  # compiled training too (with its eager twin): does it pay?
  $IBENCH bench "${T[@]}" --mode train --compile --no-torchvision -o "$OUT/bench.csv"
done
$IBENCH report "$OUT/bench.csv" --out "$OUT/report" > /dev/null
echo "wrote $OUT/bench.csv and $OUT/report/report.md"
