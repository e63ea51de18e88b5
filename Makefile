# ChromTransfer book — the two commands a user needs:
#   make book   # build + run every chapter (default profile: quick) and render the HTML book
#   make test   # run the test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
RUN_DIR ?= runs/$(PROFILE)
PYTEST_ARGS ?=

.PHONY: book test test-all lint bench clean venv

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

book: venv
	$(VENV)/bin/chromtransfer book --profile $(PROFILE) --run-dir $(RUN_DIR)

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

test-all: venv
	$(PY) -m pytest -m "" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check chromtransfer_lib tests benchmarks notebooks
	$(VENV)/bin/ruff format --check chromtransfer_lib tests benchmarks notebooks

bench: venv
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf _build book/chapters
