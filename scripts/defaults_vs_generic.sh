#!/usr/bin/env bash
# Named by: results/defaults-vs-generic-2026-12-01, docs/training.md.
# issue 14's check: ibench train's defaults vs a tuned generic recipe (scripts/generic_recipe.py) on real-image
# folders built here from data the defaults were not tuned on, the same epochs each. Writes OUT (default
# results/defaults-vs-generic-<date>): each defaults run's config/metrics/final.json, each generic.json.
set -euo pipefail
OUT=${1:-results/defaults-vs-generic-$(date +%F)}
IB=${IB:-.venv/bin/ibench}
PY=${PY:-.venv/bin/python}
mkdir -p "$OUT"
[ -d /tmp/scatter-folder ] || $PY scripts/make_image_folder.py scatter /tmp/scatter-folder
[ -d /tmp/fmnist-folder ] || $PY scripts/make_image_folder.py fashion /tmp/fmnist-folder
for case in "scatter 8" "fmnist 5"; do
  set -- $case
  name=$1; epochs=$2; data=imagefolder:/tmp/$name-folder
  rm -rf "/tmp/defaults-$name"
  $IB train small --data "$data" --epochs "$epochs" --out "/tmp/defaults-$name" 2>&1 | tail -1
  mkdir -p "$OUT/defaults-$name"
  cp /tmp/defaults-$name/{config.json,metrics.jsonl,final.json} "$OUT/defaults-$name/"
  $PY scripts/generic_recipe.py "$data" --epochs "$epochs" --out "$OUT/generic-$name.json" | tail -1
done
