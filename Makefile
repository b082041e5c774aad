# FactoryWeb: `make demo` serves a seeded marketplace on SQLite; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FACTORYWEB_INSTANCE ?= $(CURDIR)/instance
export TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
# Browser tests drive Debian's Chromium through Playwright (never a downloaded browser),
# with the Noto CJK fonts for the Chinese pages.
export CHROMIUM_PATH ?= /usr/bin/chromium
BROWSER_PACKAGES := chromium fonts-noto-cjk

.PHONY: demo test install install-dev translations lint serve bench clean browser screenshots

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

test: install-dev translations browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# What the browser tests need, from Debian: installed with apt-get when missing and make
# runs as root. Otherwise one line says how to get them; the tests are then skipped, or,
# with CI=true, the run stops here.
browser:
	@missing=""; \
	[ -x "$(CHROMIUM_PATH)" ] || missing="chromium"; \
	if command -v dpkg-query >/dev/null 2>&1; then \
		dpkg-query -W -f='$${Status}' fonts-noto-cjk 2>/dev/null | grep -q "ok installed" \
			|| missing="$$missing fonts-noto-cjk"; \
	fi; \
	missing=$$(echo $$missing); \
	[ -n "$$missing" ] || exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing $$missing from Debian for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq \
			&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null \
			&& exit 0; \
		echo "apt-get could not install $$missing" >&2; \
	fi; \
	if [ "$$CI" = true ]; then \
		echo "CI=true: the browser tests need $$missing (run make test as root to install them)" >&2; \
		exit 1; \
	fi; \
	echo "Browser tests need $$missing from Debian: sudo apt-get install $$missing (or run make test as root)."

# The README's pictures, taken by the browser journeys (tests/browser/test_journeys.py)
# at 1280 px wide, then made smaller with pngquant when it is installed (Debian: pngquant).
SCREENSHOTS := docs/screenshots
screenshots: install-dev translations browser
	rm -f $(SCREENSHOTS)/*.png
	# CI=true: a missing Chromium stops the run instead of skipping (and leaving no pictures).
	CI=true FACTORYWEB_SCREENSHOTS=$(CURDIR)/$(SCREENSHOTS) $(BIN)/python -m pytest -q -p no:cacheprovider tests/browser/test_journeys.py
	@if command -v pngquant >/dev/null 2>&1; then \
		pngquant --force --skip-if-larger --ext .png --quality 60-85 --speed 1 $(SCREENSHOTS)/*.png || true; \
	else echo "pngquant not found: the screenshots are left as taken (apt-get install pngquant)"; fi
	@ls -l $(SCREENSHOTS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check marketplace factories matching tests bench
	$(BIN)/mypy

bench: install-dev
	$(BIN)/python bench/seed.py

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache
