# Two commands for a fresh machine (Python 3.11+): `make dev` serves the product, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: dev test lint validate check bench venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

dev: venv
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/torghut-assets db upgrade
	$(BIN)/torghut-assets dev-seed
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

test: venv
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: venv
	$(BIN)/ruff check torghut_assets torghut_assets_tests bench
	$(BIN)/mypy

validate: venv
	$(BIN)/dagster definitions validate -w workspace.yaml

check: lint validate test
