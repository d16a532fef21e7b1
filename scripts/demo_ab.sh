#!/usr/bin/env bash
# make demo's ablation with an older checkout against this one, interleaved (old, new, new, old), wall seconds each.
#   git worktree add /tmp/old 26fa2f7 && bash scripts/demo_ab.sh /tmp/old
set -euo pipefail
NEW=$(cd "$(dirname "$0")/.." && pwd)
OLD=$(cd "$1" && pwd)
PY=${PYTHON:-$NEW/.venv/bin/python}
run() {  # $1 = old|new
  local dir=$OLD
  if [ "$1" = new ]; then dir=$NEW; fi
  rm -rf "/tmp/demo-ab-$1"
  local start end
  start=$(date +%s.%N)
  (cd "$dir" && PYTHONPATH=$dir $PY -m inception_bench ablate specs/ablations/quick.yaml --out "/tmp/demo-ab-$1" > /dev/null)
  end=$(date +%s.%N)
  echo "$1 $(echo "$end - $start" | bc) s"
}
for who in old new new old; do run $who; done
