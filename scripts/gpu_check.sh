#!/usr/bin/env bash
# The CUDA path in one prepared script, in priority order within a time budget (default 480 s; later phases are
# skipped, not cut, when too little is left). Seen on 2026-11-27 (results/bench/gpu-2026-11-27/README.md): the first
# (cold) compile of a training and an inference graph takes about 150 s on a fresh machine; later ones hit the cache.
#   0. the fused 1x1 path against the unfused one and a float64 reference on the GPU, bf16 + channels_last (pytest)
#   1. the benchmark grid at 224x224: the fp32 eager baseline (the paper's spec and torchvision's googlenet), then
#      the fast path, bf16 + channels_last + torch.compile with CUDA graphs (reduce-overhead), with and without
#      --fuse-1x1 (each Inception module's three input 1x1 convolutions as one), then both again from the compile
#      cache (an A/B, alternated, in one run); targets.txt (scripts/bench_targets.py) gives the fastest setup's
#      ratio to fp32 eager torchvision, its fraction of peak, and every setup's ratio
#   2. a torch.profiler breakdown of a compiled training step (fused; without CUDA graphs, which the profiler
#      does not see into when they were captured before it started; they change launches, not kernels)
#   3. `ibench train` on the fast path (compiled with CUDA graphs, fused) on synthetic 224x224 data, `ibench train`
#      on digits as on 2026-11-27 (eager), and `ibench report` of it all
# Usage: bash scripts/gpu_check.sh [OUT_DIR]     (default results/bench/gpu-<date>)
# Settings from the environment: BATCH (256), BUDGET (480 s), DEVICE (cuda), SIZE (224), FAST (bf16), STEPS (20),
# PYTHON (python3), EXTRA (more options for every bench, profile and train). A dry run of the logic on a CPU:
#   DEVICE=cpu FAST=fp32 SIZE=96 BATCH=4 STEPS=2 EXTRA="--set width_mult=0.125" bash scripts/gpu_check.sh /tmp/dry
# Runs `ibench` if installed, else `python3 -m inception_bench` from this checkout. The lent GPU machines have
# torch, torchvision, typer, rich, pandas, scipy, matplotlib and pytest but not pydantic or fvcore: `bash
# scripts/gpu_wheels.sh` here puts the missing wheels in .whl; carry it and install them first (that script's
# header gives the line). Needs bash >= 4.4 (empty arrays under set -u).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/bench/gpu-$(date +%Y-%m-%d)}
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
IBENCH=${IBENCH:-$(command -v ibench || echo "$PY -m inception_bench")}
B=${BATCH:-256} BUDGET=${BUDGET:-480} DEV=${DEVICE:-cuda} SIZE=${SIZE:-224} FAST=${FAST:-bf16} STEPS=${STEPS:-20}
SPEC=specs/googlenet.yaml
read -r -a EXTRA <<< "${EXTRA:-}"
COMMON=(--device "$DEV" --batch-size "$B" --image-size "$SIZE" --steps "$STEPS" -o "$OUT/bench.csv" "${EXTRA[@]}")
mkdir -p "$OUT"
rm -f "$OUT/bench.csv"

left() { echo $((BUDGET - SECONDS)); }
phase() {  # NAME SECONDS_NEEDED(>=5) COMMAND...: run COMMAND unless fewer seconds are left; never past the budget
  local name=$1 need=$2
  shift 2
  if [ "$(left)" -lt "$need" ]; then
    echo "== skipped $name: $(left) s left, needs about $need" >&2
    return
  fi
  echo "== $name ($(left) s left)" >&2
  timeout --kill-after=5 "$(($(left) - 2))" "$@" || echo "!! $name: exit status $?" >&2
}

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda,
torch.cuda.get_device_name() if torch.cuda.is_available() else 'no cuda')"
  date -u; } 2>&1 | tee "$OUT/device.txt"

# 0. fused = unfused on this device, in the fast path's precision and layout
phase "fused 1x1 check" 20 $PY -m pytest -q -p no:cacheprovider tests/test_models.py -k bf16 -rs

# 1. the grid: the fp32 eager baseline (the paper's spec and torchvision's googlenet), then the fast path with fused
#    and unfused 1x1 convolutions, alternated: cold compiles first, then the same from the compile cache
phase "bench fp32 eager" 40 $IBENCH bench $SPEC "${COMMON[@]}" --precision fp32 --warmup 5
CUDAGRAPHS=()
if [ "$DEV" != cpu ]; then CUDAGRAPHS=(--compile-mode reduce-overhead); fi
FASTOPTS=(--precision "$FAST" --channels-last --compile "${CUDAGRAPHS[@]}" --warmup 10 --no-torchvision)
phase "bench $FAST channels_last compile fused-1x1" 180 $IBENCH bench $SPEC "${COMMON[@]}" "${FASTOPTS[@]}" --fuse-1x1
phase "bench $FAST channels_last compile" 180 $IBENCH bench $SPEC "${COMMON[@]}" "${FASTOPTS[@]}"
phase targets 5 $PY scripts/bench_targets.py "$OUT/bench.csv" | tee "$OUT/targets.txt"
phase "bench $FAST channels_last compile (again)" 60 $IBENCH bench $SPEC "${COMMON[@]}" "${FASTOPTS[@]}"
phase "bench $FAST channels_last compile fused-1x1 (again)" 60 $IBENCH bench $SPEC "${COMMON[@]}" "${FASTOPTS[@]}" \
  --fuse-1x1

# 2. where the time goes in a compiled training step
phase "profile compiled" 90 $PY scripts/profile_step.py $SPEC --device "$DEV" --precision "$FAST" --channels-last \
  --batch-size "$B" --image-size "$SIZE" --steps 5 --compile --fuse-1x1 "${EXTRA[@]}" > "$OUT/profile-compile.txt"
tail -n 1 "$OUT/profile-compile.txt"

# 3. the training command on the fast path (data on the device, bf16 and channels_last by default on CUDA); digits
#    as on 2026-11-27; the report
rm -rf "$OUT/train-synthetic" "$OUT/train-digits"
phase "train synthetic (fast path)" 150 $IBENCH train $SPEC --data synthetic --set num_classes=10 --epochs 3 \
  --batch-size "$B" --schedule cosine --image-size "$SIZE" --compile "${CUDAGRAPHS[@]}" --fuse-1x1 "${EXTRA[@]}" \
  --device "$DEV" --out "$OUT/train-synthetic" 2>&1 | tail -n 2
phase "train digits" 60 $IBENCH train specs/googlenet-small.yaml --data digits --epochs 8 --schedule cosine \
  --device "$DEV" --out "$OUT/train-digits" 2>&1 | tail -n 2
rm -f "$OUT"/train-*/checkpoint.pt
phase report 20 $IBENCH report "$OUT" --out "$OUT/report" > /dev/null
echo "== done in $SECONDS s"
if [ -f "$OUT/bench.csv" ]; then  # again, with every row measured
  $PY scripts/bench_targets.py "$OUT/bench.csv" | tee "$OUT/targets.txt"
fi
