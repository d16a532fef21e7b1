#!/usr/bin/env bash
# Named by: docs/bench.md (the wheels gpu_check.sh installs on the lent machine).
# Wheels for the lent GPU machine (Python 3.12, x86-64), whose image has torch, torchvision, typer, rich, pandas,
# scipy and matplotlib but not pydantic or fvcore (device tool's KINDS.md, 2026-11-17). Run here, from PyPI, before
# the device call; the folder .whl is ignored by git (.gitignore) and travels with `carry: [".whl"]`.
# The versions are the ones this checkout's .venv runs. On the GPU machine, first:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
#     .whl/*.whl && export PYTHONPATH=/tmp/site
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
version() { "$PY" -c "import importlib.metadata as m; print(m.version('$1'))"; }
rm -rf .whl && mkdir .whl
binary=()
for name in pydantic pydantic_core annotated-types typing-inspection typing_extensions yacs termcolor; do
  binary+=("$name==$(version "$name")")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl "${binary[@]}"
# fvcore and iopath publish source only; both are pure Python, so a wheel built here runs there
"$PY" -m pip wheel -q --no-deps -w .whl "fvcore==$(version fvcore)" "iopath==$(version iopath)"
ls .whl
