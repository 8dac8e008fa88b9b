# Two commands for a fresh machine (Python 3.11+): `make dev` serves the product, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# requirements.lock pins every package of the runtime + dev install (`make lock` regenerates it); the
# stamp changes with it or pyproject.toml, so `make test` reinstalls only when one of them changed.
LOCK := requirements.lock
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | sha256sum | cut -c1-16)
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

# `make validate` runs `dg check defs` (the defs folder loads, every definition resolves).
.PHONY: dev test lint validate check bench bench-quick bench-deps venv ui-deps lock

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

# Re-pin requirements.lock with pip's resolver (dry run: installs nothing; needs only the package index).
# Keeps the current pins where pyproject.toml allows them; `make lock UPGRADE=1` takes the newest allowed.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python .ci/lock.py $(if $(UPGRADE),--upgrade)

# `make dev` also serves the artifact root read-only on ARTIFACT_PORT (`torghut-assets artifacts serve`), so
# the UI links evidence artifacts and draws plots inline; the server stops when `dg dev` does.
ARTIFACT_PORT ?= 3001
dev: export TORGHUT_ARTIFACT_BASE_URL ?= http://127.0.0.1:$(ARTIFACT_PORT)
dev: venv
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/torghut-assets db upgrade
	$(BIN)/torghut-assets dev-seed
	$(BIN)/torghut-assets artifacts serve --host 127.0.0.1 --port $(ARTIFACT_PORT) & artifacts=$$!; \
	trap 'kill $$artifacts 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	$(BIN)/dg dev --host 127.0.0.1 --port 3000

# The UI tests drive Debian's chromium through Playwright (never Playwright's own browser download).
ui-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing chromium and chromium-driver for the UI tests"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; } \
	    || { echo "error: could not install chromium (apt-get install chromium chromium-driver);" \
	              "install it, or run the other tests with: $(BIN)/python -m pytest -m 'not ui'" >&2; exit 1; }; \
	fi

test: venv ui-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: venv
	$(BIN)/ruff check torghut_assets torghut_assets_tests bench
	$(BIN)/ruff format --check torghut_assets torghut_assets_tests bench
	$(BIN)/mypy

validate: venv
	mkdir -p $(DAGSTER_HOME)
	test -f $(DAGSTER_HOME)/dagster.yaml || cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dg check defs

check: lint validate test

# docs/data-dictionary.md and the at-rest suites (ledger/quality_suites/*.json) are generated from the table
# contracts (torghut_assets/ledger/table_contracts.py); tests fail when either is stale.
.PHONY: data-dictionary
data-dictionary: venv
	$(BIN)/python -m torghut_assets.ledger.table_contracts

# Benchmarks (bench/README in docs/benchmarks.md): full scale takes tens of minutes and writes
# docs/benchmarks.md; `make bench-quick` is the < 5 min smoke of every workload.
bench-deps: venv
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[bench]'

bench: bench-deps
	bash .ci/ensure-postgres
	$(BIN)/python -m bench.run --write docs/benchmarks.md

bench-quick: bench-deps
	bash .ci/ensure-postgres
	$(BIN)/python -m bench.run --quick --write docs/benchmarks.md
