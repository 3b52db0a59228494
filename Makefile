# `make check` runs what CI runs (after CI has installed the project into a fresh venv).
PYTHON ?= python

.PHONY: check lint typecheck test test-fast

check: lint typecheck test

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

typecheck:
	$(PYTHON) -m mypy srlm

test:
	$(PYTHON) -m pytest -q

test-fast:
	$(PYTHON) -m pytest -q -m "not slow"
