#!/usr/bin/env bash
# Named by: results/bn-bias-check-2026-12-06, docs/training.md.
# issue 25's check: ibench train's defaults after (the small spec's bn_bias 1, bn_bias_heads 0) and before
# (--set bn_bias=0: every batch norm's shift at 0) on folders built by scripts/make_image_folder.py, the digits and
# Fashion-MNIST at the study scale, the same command otherwise; and the plain CNN with a tuned generic recipe on the
# colour folder. Two queues of one-thread runs side by side (a 2-core machine); a run whose final.json is in OUT is
# skipped. Writes OUT/<case>-<before|after>-s<seed>/ (config.json, metrics.jsonl, final.json, train.log) and
# OUT/cnn-colour.json; `python scripts/bn_bias_table.py OUT` prints the table.
#
#   scripts/bn_bias_check.sh results/bn-bias-check-$(date +%F)
set -uo pipefail
OUT=${1:?usage: scripts/bn_bias_check.sh OUT}
IB=${IB:-.venv/bin/ibench}
PY=${PY:-.venv/bin/python}
mkdir -p "$OUT" /tmp/bnb-runs
for kind in colour scatter fashion fashion-colour; do
  dir=/tmp/$kind-folder; [ "$kind" = fashion ] && dir=/tmp/fmnist-folder; [ "$kind" = fashion-colour ] && dir=/tmp/fcolour-folder
  [ -d "$dir" ] || $PY scripts/make_image_folder.py "$kind" "$dir"
done

run() {  # CASE before|after SEED ibench-train-options...
  local name=$1-$2-s$3 setting=$2 seed=$3; shift 3
  local tmp=/tmp/bnb-runs/$name
  [ -f "$OUT/$name/final.json" ] && return 0
  local before=(); [ "$setting" = before ] && before=(--set bn_bias=0)
  rm -rf "$tmp"
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $IB train small "$@" "${before[@]}" --seed "$seed" --workers 0 \
    --progress plain --out "$tmp" > "/tmp/bnb-runs/$name.log" 2>&1
  mkdir -p "$OUT/$name"
  cp "$tmp"/{config.json,metrics.jsonl,final.json} "$OUT/$name/" 2>/dev/null
  cp "/tmp/bnb-runs/$name.log" "$OUT/$name/train.log"
}

both() {  # CASE SEED options...: after, then before
  run "$1" after "$2" "${@:3}"
  run "$1" before "$2" "${@:3}"
}

queue_a() {
  both scatter 2 --data imagefolder:/tmp/scatter-folder --epochs 8
  both colour 0 --data imagefolder:/tmp/colour-folder --epochs 8
  both fmnist 0 --data imagefolder:/tmp/fmnist-folder --epochs 5
  run colour after 1 --data imagefolder:/tmp/colour-folder --epochs 8
}
queue_b() {
  both fm-quarter 0 --data fashion-mnist --set width_mult=0.25 --epochs 4
  both fcolour-quarter 0 --data imagefolder:/tmp/fcolour-folder --set width_mult=0.25 --epochs 8
  both digits 0 --data digits --epochs 8
  [ -f "$OUT/cnn-colour.json" ] || OMP_NUM_THREADS=1 $PY scripts/generic_recipe.py imagefolder:/tmp/colour-folder \
    --epochs 8 --model cnn --optimizer adam --lrs 0.0003 0.001 0.003 --out "$OUT/cnn-colour.json" > /tmp/bnb-runs/cnn.log 2>&1
  for s in 0 1 2; do both scatter "$s" --data imagefolder:/tmp/scatter-folder --epochs 8; done
}
queue_a & queue_b & wait
