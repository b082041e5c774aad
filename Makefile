# FactoryWeb: `make demo` serves a seeded marketplace on SQLite; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FACTORYWEB_INSTANCE ?= $(CURDIR)/instance
export TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: demo test install install-dev translations lint serve bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d marketplace/translations -f >/dev/null

demo: install translations
	$(BIN)/factoryweb db upgrade
	$(BIN)/factoryweb seed-demo --if-empty
	@echo "FactoryWeb is at http://$(HOST):$(PORT)/ (Ctrl+C stops it)"
	$(BIN)/flask --app app run --host $(HOST) --port $(PORT)

test: install-dev translations
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check marketplace factories matching tests bench
	$(BIN)/mypy

bench: install-dev
	$(BIN)/python bench/seed.py

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache
