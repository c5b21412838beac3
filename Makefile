# Two commands: `make run` (install, create databases, migrate, start everything) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | sha1sum | cut -c1-12)

export PSYCOPG_WAIT_FUNC ?= wait_selector
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run install migrate topology demo test drills bench clean asyncapi rpc-doc settings-doc

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python -m chassis.migrate

topology: install
	$(BIN)/python -m chassis.topology

# A small Ukrainian demo set (skipped with DEMO=0); loading it twice changes nothing.
demo: migrate
	@if [ "$${DEMO:-1}" != "0" ]; then $(BIN)/python -m deploy.demo; fi

# Starts the five services, the gateway (http://localhost:$${GATEWAY_PORT:-8000}) and the SMTP
# catcher under honcho; Ctrl-C stops them all.
run: migrate topology demo
	AUTH_DEV_LOGIN=$${AUTH_DEV_LOGIN:-1} $(BIN)/honcho start -f Procfile

# The whole suite but the fault drills (unit, integration, end to end): TEST_WORKERS pytest-xdist
# workers, each with its own isolated system, a test file never split between two (docs/testing.md).
TEST_WORKERS ?= 3
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not drill" $(PYTEST_ARGS)

# The fault drills of tests/drills/ (they start and break their own servers), one after another.
drills: install
	$(BIN)/python -m pytest -m drill $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/rpc.py
	$(BIN)/python bench/session.py
	$(BIN)/python bench/hops.py
	$(BIN)/python bench/register.py
	$(BIN)/python bench/consultations.py
	$(BIN)/python bench/moderation.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/notifications.py
	$(BIN)/python bench/e2e.py

asyncapi: install
	$(BIN)/python -m chassis.asyncapi > docs/asyncapi.yaml

rpc-doc: install
	$(BIN)/python -m chassis.rpc_contract > docs/rpc.json

settings-doc: install
	$(BIN)/python -m chassis.settings_doc > docs/settings.md

clean:
	rm -rf $(VENV) var
