# Two entry points for a fresh machine: `make demo` (the main job, no download) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# test workers: one per core, at most 4 (each imports torch; the files are shared out whole: --dist loadfile)
JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)

.PHONY: install demo test test-fast typecheck lint results-count results-quick

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ibench count
	$(BIN)/ibench ablate specs/ablations/quick.yaml --out runs/quick
	$(BIN)/ibench report runs/quick --out runs/quick/report

test: $(STAMP)
	$(BIN)/ruff check inception_bench tests scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n $(JOBS) --dist loadfile --durations=25

# the suite without its slow end-to-end tests
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n $(JOBS) --dist loadfile -m "not slow"

typecheck: $(STAMP)
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check inception_bench tests scripts
	$(BIN)/ruff format --check inception_bench tests scripts

results-count: $(STAMP)
	$(BIN)/ibench count --format markdown --output results/count/googlenet.md
	$(BIN)/ibench count --format csv --output results/count/googlenet.csv

results-quick: $(STAMP)
	$(BIN)/ibench ablate specs/ablations/quick.yaml --out runs/quick
	$(BIN)/ibench report runs/quick --out results/quick
	cp runs/quick/results.csv runs/quick/ablation.json results/quick/
