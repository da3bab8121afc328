# Echo's short verbs. Each target sets itself up (venv, pinned install, Airflow home),
# and a second call reuses what exists.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export PATH := $(CURDIR)/$(BIN):$(PATH)
# The checkout's own package wins over any editable install (worktrees share one venv).
export PYTHONPATH := $(CURDIR)/plugins

.PHONY: help venv airflow browser demo test test-stack lint bench up up-local down-local clean

help:  ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml include/web/package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25"
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	# the Data Docs' CDN files, pinned (include/web/package-lock.json): pages work offline
	@command -v npm >/dev/null || { echo "npm is needed for include/web (apt-get install -y npm)"; exit 1; }
	cd include/web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

venv: $(STAMP)  ## create .venv with the pinned stack (about 2 minutes the first time)

$(AIRFLOW_HOME)/.migrated: $(STAMP)
	mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate >/dev/null
	$(BIN)/airflow pools set echo_duckdb 1 "serialises writers of the Echo DuckDB file" >/dev/null
	$(BIN)/airflow pools set echo_gpu 1 "one fine-tune at a time" >/dev/null
	$(BIN)/airflow pools set echo_extract 4 "extract shards walking at once (no warehouse access)" >/dev/null
	touch $@

airflow: $(AIRFLOW_HOME)/.migrated  ## project-local Airflow home with a migrated SQLite DB and pools

demo: airflow  ## run the main job end to end on the embedded defaults
	$(BIN)/python scripts/demo.py

# The report's render test drives Debian's headless Chromium; installed here when root can.
browser:  ## headless Chromium for the report test (apt-get install chromium)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null); } || \
	  echo "no Chromium: the report render test will fail; install it with: sudo apt-get install -y chromium"

# Two workers (pytest-xdist), whole files each: the e2e tests wait on `airflow dags test`
# subprocesses, so one worker leaves a core idle; module fixtures stay in one process.
TEST_WORKERS ?= 2
test: airflow browser  ## run the whole test suite
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# Deselected from `make test` (8 to 9.5 minutes on 2 busy cores): the native distributed stack,
# a 3-day backfill on Celery with a lost worker, compared with the embedded run.
test-stack: airflow  ## the distributed stack's end-to-end test (tests/e2e/test_distributed.py)
	$(BIN)/python -m pytest -m stack

lint: venv  ## ruff
	$(BIN)/ruff check dags plugins tests bench scripts
	$(BIN)/ruff format --check dags plugins tests bench scripts

bench: venv  ## run every benchmark under bench/ (each prints one JSON object last)
	@set -e; for b in $(wildcard bench/*.py); do echo "== $$b"; $(BIN)/python $$b; done

up:  ## the multi-machine form (needs a Docker engine; docs/deploy.md)
	docker compose up -d --build

# The same services natively (Postgres, Redis from Debian; moto S3; Airflow on Celery):
# state, logs and pid files under data/stack/ (docs/deploy.md).
up-local: venv  ## the distributed form on this machine, no Docker (scripts/stack.py)
	$(BIN)/python scripts/stack.py up

down-local:  ## stop everything `make up-local` started
	$(BIN)/python scripts/stack.py down

clean:  ## remove generated data and the Airflow home (keeps .venv)
	rm -rf data .airflow
