#!/usr/bin/env bash
# Named by: the GPU issue's device call (results/bench/gpu-<date>), docs/bench.md.
# The CUDA path in one prepared script, in priority order within a time budget (default 480 s; a phase is skipped
# when less is left than it needs, and one still running at the budget is stopped). Seen on 2026-11-27
# (results/bench/gpu-2026-11-27/README.md): the first (cold) compile of a training and an inference graph takes
# about 150 s on a fresh machine; later ones hit the cache.
#   0. the execution options (--fuse-1x1, --s2d-stem) against the plain model and a float64 reference on the GPU,
#      bf16 + channels_last, and a training step loop with no synchronising call (sync debug mode) (pytest)
#   1. the fp32 eager baseline at 224x224 (the paper's spec and torchvision's googlenet)
#   2. conv1 alone, plain and on space-to-depth blocks (scripts/stem_bench.py, eager): what --s2d-stem buys
#   3. the fast path with every lead on: bf16 + channels_last + torch.compile with CUDA graphs (reduce-overhead)
#      + --fuse-1x1 (each Inception module's three input 1x1 convolutions as one) + --s2d-stem; targets.txt
#      (scripts/bench_targets.py) gives the fastest setup's ratio to fp32 eager torchvision, its fraction of peak,
#      and every setup's ratio
#   4. the A/B: the fast path without the leads (as on 2026-11-27; a second cold compile, which reuses many of the
#      first one's kernels), and the targets again
#   5. a torch.profiler breakdown of the leads' compiled training step, with every convolution's time by layer
#      (without CUDA graphs, which the profiler does not see into when they were captured before it started; they
#      change launches, not kernels)
#   6. both fast paths again from the compile cache (only when both ran cold), and inference under max-autotune
#      (inductor's own convolution and GEMM kernels where faster; its autotuning is slow, so it comes late)
#   7. `ibench train` on the fast path on synthetic 224x224 data, `ibench train` on digits as on 2026-11-27
#      (eager), and `ibench report` of it all
# Usage: bash scripts/gpu_check.sh [OUT_DIR]     (default results/bench/gpu-<date>)
# Settings from the environment: BATCH (256), BUDGET (480 s), DEVICE (cuda), SIZE (224), FAST (bf16), STEPS (20),
# PYTHON (python3), EXTRA (more options for every bench, profile and train). A dry run of the logic on a CPU:
#   DEVICE=cpu FAST=fp32 SIZE=96 BATCH=4 STEPS=2 EXTRA="--set width_mult=0.125" bash scripts/gpu_check.sh /tmp/dry
# Runs `ibench` if installed, else `python3 -m inception_bench` from this checkout. The lent GPU machines have
# torch, torchvision, typer, rich, pandas, scipy, matplotlib and pytest but not pydantic or fvcore: `bash
# scripts/gpu_wheels.sh` here puts the missing wheels in .whl; carry it and install them first (that script's
# header gives the line). Needs bash >= 4.4 (empty arrays under set -u).
# The device tool brings back at most 8 files from $OUT, so pack the folder; one call (timeout_s about BUDGET + 60):
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
#     .whl/*.whl && export PYTHONPATH=/tmp/site || exit; set -o pipefail; BUDGET=480 bash scripts/gpu_check.sh \
#     /tmp/gpu 2>&1 | tee $OUT/log.txt; tar czf $OUT/gpu.tgz -C /tmp gpu
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/bench/gpu-$(date +%Y-%m-%d)}
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
IBENCH=${IBENCH:-$(command -v ibench || echo "$PY -m inception_bench")}
B=${BATCH:-256} BUDGET=${BUDGET:-480} DEV=${DEVICE:-cuda} SIZE=${SIZE:-224} FAST=${FAST:-bf16} STEPS=${STEPS:-20}
SPEC=specs/googlenet.yaml
read -r -a EXTRA <<< "${EXTRA:-}"
# STEPS timed steps per setup, in 4 interleaved rounds
COMMON=(--device "$DEV" --batch-size "$B" --image-size "$SIZE" --rounds 4 --steps $(((STEPS + 3) / 4)) -o "$OUT/bench.csv"
  "${EXTRA[@]}")
mkdir -p "$OUT"
rm -f "$OUT/bench.csv"

left() { echo $((BUDGET - SECONDS)); }
phase() {  # NAME SECONDS_NEEDED(>=5) COMMAND...: run COMMAND unless fewer seconds are left; never past the budget
  local name=$1 need=$2
  shift 2
  if [ "$(left)" -lt "$need" ]; then
    echo "== skipped $name: $(left) s left, needs about $need" >&2
    return 1
  fi
  echo "== $name ($(left) s left)" >&2
  timeout --kill-after=5 "$(($(left) - 2))" "$@" || echo "!! $name: exit status $?" >&2
}

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda,
torch.cuda.get_device_name() if torch.cuda.is_available() else 'no cuda')"
  date -u; } 2>&1 | tee "$OUT/device.txt"

# 0. the execution options compute what the plain model does, on this device, in the fast path's precision and
#    layout; a training step (with the weight average) makes no synchronising call
phase "execution options and no-sync checks" 30 $PY -m pytest -q -p no:cacheprovider tests/test_models.py \
  tests/test_train.py -k "bf16 or reads_nothing" -rs

# 1. the fp32 eager baseline (the paper's spec and torchvision's googlenet)
phase "bench fp32 eager" 40 $IBENCH bench $SPEC "${COMMON[@]}" --precision fp32 --no-channels-last --no-compile \
  --warmup 5

# 2. conv1 alone: the 3-channel 7x7/2 convolution against its space-to-depth form
phase "conv1 plain vs space-to-depth" 20 $PY scripts/stem_bench.py --device "$DEV" --precision "$FAST" \
  --batch-size "$B" --image-size "$SIZE" --steps "$STEPS" | tee "$OUT/stem.txt"

# 3. the fast path with every lead on; the targets
CUDAGRAPHS=()
if [ "$DEV" != cpu ]; then CUDAGRAPHS=(--compile-mode reduce-overhead); fi
# each model's fp32 eager baseline is measured in the same command (vs_fp32_eager); torchvision only in phase 1
FASTOPTS=(--precision "$FAST" --channels-last --compile "${CUDAGRAPHS[@]}" --warmup 10 --no-torchvision)
LEADS=(--fuse-1x1 --s2d-stem)
phase "bench fast path + leads" 180 $IBENCH bench $SPEC "${COMMON[@]}" "${FASTOPTS[@]}" "${LEADS[@]}"
phase targets 5 $PY scripts/bench_targets.py "$OUT/bench.csv" | tee "$OUT/targets.txt"

# 4. the A/B: the fast path without the leads (a cold compile); the targets again, with both
phase "bench fast path" 150 $IBENCH bench $SPEC "${COMMON[@]}" "${FASTOPTS[@]}" && PLAIN_RAN=1
phase targets 5 $PY scripts/bench_targets.py "$OUT/bench.csv" | tee "$OUT/targets.txt"

# 5. where the time goes in the leads' compiled training step (its graph is in the compile cache by now)
phase "profile compiled" 60 $PY scripts/profile_step.py $SPEC --device "$DEV" --precision "$FAST" --channels-last \
  --batch-size "$B" --image-size "$SIZE" --steps 5 --compile "${LEADS[@]}" "${EXTRA[@]}" > "$OUT/profile-compile.txt"
grep -A 12 "^per step" "$OUT/profile-compile.txt"

# 6. both again from the compile cache, alternated (only if both compiled above); inference under max-autotune
if [ -n "${PLAIN_RAN:-}" ]; then
  phase "bench fast path + leads (again)" 60 $IBENCH bench $SPEC "${COMMON[@]}" "${FASTOPTS[@]}" "${LEADS[@]}"
  phase "bench fast path (again)" 60 $IBENCH bench $SPEC "${COMMON[@]}" "${FASTOPTS[@]}"
fi
AUTOTUNE=(--compile-mode max-autotune)
if [ "$DEV" = cpu ]; then AUTOTUNE=(); fi
phase "bench fast path + leads, max-autotune (infer)" 240 $IBENCH bench $SPEC "${COMMON[@]}" --mode infer \
  --precision "$FAST" --channels-last --compile "${AUTOTUNE[@]}" --warmup 10 --no-torchvision "${LEADS[@]}"

# 7. the training command on the fast path (data on the device, bf16 and channels_last by default on CUDA); digits
#    as on 2026-11-27; the report
rm -rf "$OUT/train-synthetic" "$OUT/train-digits"
phase "train synthetic (fast path)" 150 $IBENCH train $SPEC --data synthetic --set num_classes=10 --epochs 3 \
  --batch-size "$B" --schedule cosine --image-size "$SIZE" --compile "${CUDAGRAPHS[@]}" "${LEADS[@]}" "${EXTRA[@]}" \
  --device "$DEV" --out "$OUT/train-synthetic" 2>&1 | tail -n 2
phase "train digits" 60 $IBENCH train specs/googlenet-small.yaml --data digits --epochs 8 --schedule cosine \
  --device "$DEV" --out "$OUT/train-digits" 2>&1 | tail -n 2
rm -f "$OUT"/train-*/checkpoint.pt
phase report 20 $IBENCH report "$OUT" --out "$OUT/report" > /dev/null
echo "== done in $SECONDS s"
if [ -f "$OUT/bench.csv" ]; then  # again, with every row measured
  $PY scripts/bench_targets.py "$OUT/bench.csv" | tee "$OUT/targets.txt"
fi
