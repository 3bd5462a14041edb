# Job Management: `make run` to start, `make test` to run every test. `make help` lists all targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
DEV_STAMP := $(VENV)/.dev-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: help run test test-fast check fmt bench screenshots chromium clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(STAMP) ## install into .venv and start the app at http://127.0.0.1:8080 (SQLite in ./data)
	$(BIN)/python main.py serve

chromium: ## install Debian's Chromium for the browser tests if it is missing
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

test: $(DEV_STAMP) chromium ## install dev dependencies and Chromium, then run the whole suite
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

test-fast: $(DEV_STAMP) ## run the suite without the browser tests
	$(BIN)/python -m pytest -q -m 'not e2e'

check: $(DEV_STAMP) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(DEV_STAMP) ## format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(DEV_STAMP) chromium ## run the benchmarks under bench/ and print their figures
	$(BIN)/python -m bench

screenshots: $(DEV_STAMP) chromium ## every page at desktop and phone size, light and dark, into ./screenshots
	$(BIN)/python -m tests.screens

clean: ## remove the virtualenv and caches (keeps ./data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
