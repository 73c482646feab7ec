# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: run test lint format check install clean-data bench docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(DOCS_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[docs]'
	touch $@

install: $(STAMP)

## Serve the campaign on http://127.0.0.1:8000 (embedded PostgreSQL and mail sink by default).
run: $(STAMP)
	$(BIN)/campaign serve

## Lint, type-check, then the whole test suite (real PostgreSQL, SMTP and Chromium).
test: $(TEST_STAMP) lint
	$(BIN)/pytest

lint: $(TEST_STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(TEST_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Build the manual (docs/) into site/ with MkDocs; any warning (a broken link or anchor) fails.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

## Forget the embedded database and the dev secret (the next `make run` starts afresh).
clean-data:
	rm -rf .data
