#!/usr/bin/env bash
# Named by: results/studies/ (every study), results/README.md.
# The committed studies of results/studies/ (issue 26), in order, at the scale their ablation files state. Each is
# resumable: run this again after an interruption and it goes on from the last finished epoch of each run.
#   bash scripts/run_studies.sh                 # paper, halving-check, aux, aux-lr-check, reduction,
#                                               # precision-check, successors
#   bash scripts/run_studies.sh aux             # one study
#   STUDIES_OUT=/elsewhere/results/studies bash scripts/run_studies.sh   # the run folders elsewhere (e.g. runs from
#                                               # a second checkout, so that editing this one cannot disturb them)
# Runs go one per core with one thread each (--jobs $(nproc)), which trains 1.41x (reduced modules) and 1.28x
# (naive) the images/s of one run on every core (results/bench/cpu-study-2026-12-06/). Afterwards each study's
# report and README and the README's answers table are regenerated.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
studies=("$@")
[ ${#studies[@]} -gt 0 ] || studies=(paper halving-check aux aux-lr-check reduction precision-check successors)
root=${STUDIES_OUT:-results/studies}
for study in "${studies[@]}"; do
  out=$root/$study
  # the runs another study has finished that are the same runs as this one's (a shared baseline, its tuning
  # candidates) are copied from there, not trained again
  reuse=()
  for other in "$root"/*/ablation.json; do
    [ -f "$other" ] && [ "$(dirname "$other")" != "$out" ] && reuse+=(--reuse "$(dirname "$other")")
  done
  "$BIN/ibench" ablate "specs/ablations/$study.yaml" --out "$out" --jobs "$(nproc)" --progress plain "${reuse[@]}"
  cp "specs/ablations/$study.yaml" "$out/"
  # the speed of each variant, timed in the same interleaved rounds at the study's batch and image size with one
  # thread as its runs had (their own images/s compare machine loads as much as variants): the answers' img/s and
  # time to target come from it (inception_bench/report/answers.py)
  [ -f "$out/bench.csv" ] || OMP_NUM_THREADS=1 "$BIN/ibench" bench "specs/ablations/$study.yaml" --mode train \
    --batch-size 64 --image-size 32 --baseline same --output "$out/bench.csv"
  "$BIN/ibench" report "$out" --out "$out/report"   # with its bench.csv
  "$BIN/python" scripts/study_readme.py "$out"
done
"$BIN/python" scripts/halving_check.py || echo "halving check: not both finished yet"
"$BIN/python" scripts/rate_check.py >/dev/null || echo "rate check: not written (its error is above)"
"$BIN/python" scripts/answers.py --studies "$root"
