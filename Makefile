# Everyday targets. `make reproduce` and `make test` work on a fresh machine: they create .venv,
# install the project with the exact versions of constraints.txt, then do their job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup matrix-envs chromium reproduce lab test lint format bench import clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,convert,tensorflow,matrix]'
	touch $(STAMP)

setup: $(STAMP)

# Optional runtimes of the conversion matrix (difftest/matrix/): Apache TVM. Without it the
# matrix records the TVM runtime as missing.
matrix-envs: setup
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,convert,tensorflow,matrix,tvm]'

reproduce: setup  ## regenerate every table, figure and the report into paper_figures/, and the notebooks as HTML
	$(BIN)/convfail reproduce
	$(BIN)/jupyter nbconvert --to html --execute --ExecutePreprocessor.timeout=600 \
		--log-level=ERROR '--ExecutePreprocessor.extra_arguments=--IPKernelApp.log_level=ERROR' \
		--output-dir paper_figures/notebooks notebooks/*.ipynb

lab: setup  ## open the theme notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks/

import: setup  ## re-import the published artifact from ../shared/reference (byte-identical)
	$(BIN)/convfail data import-artifact

test: setup chromium  ## run the test suite (pytest's "no tests collected", exit 5, fails too)
	$(BIN)/python -m pytest

# The browser tests (pytest -m browser) drive Debian's chromium through Playwright; Playwright's
# own browser download does not work here. Installing it needs root (CI runs as root).
chromium:
	@test -x /usr/bin/chromium || { apt-get update && apt-get install -y chromium; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup chromium  ## run the benchmarks under benchmarks/ and print their numbers
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) paper_figures/tables paper_figures/figures paper_figures/agreement paper_figures/notebooks paper_figures/REPORT*.md paper_figures/reproduction*.json
