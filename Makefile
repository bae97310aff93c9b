# The README's commands. `make demo` and `make test` work on a fresh machine with Python 3.11+.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Tests and CI read the shared copy of the UCI data; real users download it (see training/data.py).
SHARED_DATA := $(wildcard ../shared/data/default_of_credit_card_clients.csv)
ifneq ($(SHARED_DATA),)
export UCI_CREDIT_DATA ?= $(abspath $(SHARED_DATA))
endif

.PHONY: help venv demo train test lint bench reliability mlflow-ui clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(STAMP): requirements-dev.txt functions/requirements.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(STAMP)  ## create .venv with requirements-dev.txt

demo: $(STAMP)  ## train if needed, serve on the local stand-ins, score a sample (Ctrl-C stops)
	$(PY) -m tests.support.demo

train: $(STAMP)  ## train, evaluate, export models/<version>/ and log the run to MLflow
	$(PY) -m training.train

test: $(STAMP)  ## the whole test suite (what CI runs)
	$(PY) -m pytest

lint: $(STAMP)  ## ruff
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(STAMP)  ## scoring benchmark table (LiteRT path vs the TensorFlow reference)
	$(PY) -m tests.bench.bench_scoring

clean:  ## remove generated files (keeps .venv)
	rm -rf mlruns mlflow.db .cache .pytest_cache .ruff_cache reports
