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

# Optional parts of the conversion matrix (difftest/matrix/), recorded as missing without them:
# Apache TVM, installed into .venv; and litert-torch (PyTorch -> TFLite), whose dependency xdsl
# needs typing_extensions<4.13, below the project's pin. litert-torch gets an overlay inside
# .venv: an empty venv whose .pth file adds .venv's site-packages, so pip installs only what is
# missing there (it leaves .venv's own copies alone), under the pins of the frameworks it runs
# with (all of constraints.txt makes pip backtrack for many minutes).
LITERT_ENV := $(VENV)/litert-torch
CORE_PINS := torch tensorflow_cpu keras tf2onnx onnx onnxruntime protobuf numpy ml_dtypes flatbuffers

matrix-envs: setup
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,convert,tensorflow,matrix,tvm]'
	$(PYTHON) -m venv $(LITERT_ENV)
	site=$$($(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"); \
	overlay=$$($(LITERT_ENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"); \
	echo "import site; site.addsitedir('$$site')" > $$overlay/zz_project_venv.pth
	for pin in $(CORE_PINS); do grep "^$$pin==" constraints.txt; done > $(LITERT_ENV)/constraints.txt
	$(LITERT_ENV)/bin/python -m pip install --quiet -c $(LITERT_ENV)/constraints.txt \
		litert-torch 'typing_extensions<4.13'

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
