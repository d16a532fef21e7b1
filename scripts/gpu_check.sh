#!/usr/bin/env bash
# The CUDA path in one short script (about 3 minutes on an H100): bf16 autocast, channels_last, fused SGD,
# torch.compile, a short training on synthetic 224x224 data and on digits; prints images/s per run.
# Usage: bash scripts/gpu_check.sh [OUT_DIR]   (results go to OUT_DIR, default results/gpu)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/gpu}
IBENCH=${IBENCH:-ibench}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/gpu.txt"
run() {  # name, then ibench train arguments
  local name=$1; shift
  rm -rf "$OUT/$name"
  $IBENCH train "$@" --device cuda --out "$OUT/$name" 2>&1 | tail -n 2
  python - "$OUT/$name/final.json" "$name" <<'PY' | tee -a "$OUT/summary.txt"
import json, sys
f = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:<28} {f['status']:<10} top1 {f['val_top1']:.4f}  {f['train_images_per_sec']:.0f} img/s  {f['device']}")
PY
}
: > "$OUT/summary.txt"
SYN="--data synthetic --set num_classes=1000 --epochs 2 --batch-size 128 --workers 8"
run paper-fp32-eager   specs/googlenet.yaml $SYN --precision fp32 --no-channels-last
run paper-bf16-cl      specs/googlenet.yaml $SYN --precision bf16 --channels-last
run paper-bf16-compile specs/googlenet.yaml $SYN --precision bf16 --channels-last --compile
run tv-bf16-cl         specs/googlenet-torchvision.yaml $SYN --precision bf16 --channels-last
run digits-small       specs/googlenet-small.yaml --data digits --epochs 8 --schedule cosine
cat "$OUT/summary.txt"
