# ChromTransfer book — the two commands a user needs:
#   make book   # build + run every chapter (default profile: quick) and render the HTML book
#   make test   # lint (style, the layer contract, declared dependencies), then the test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
RUN_DIR ?= runs/$(PROFILE)
PYTEST_ARGS ?=
# pytest-xdist workers (`auto`: one per core); each test file runs in one worker, so the smoke
# book (tests/test_smoke_book.py) and each module's fixtures are built once
PYTEST_WORKERS ?= auto

.PHONY: book test test-all test-paper-mini lint bench clean venv

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

book: venv
	$(VENV)/bin/chromtransfer book --profile $(PROFILE) --run-dir $(RUN_DIR)

test: venv lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-all: venv lint
	$(PY) -m pytest -m "" -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The paper's path in miniature (a slow test, CI's second step): the GPU workflow's
# `chromtransfer fetch --all` and `chromtransfer book` on miniature inputs in the paper's formats,
# served by a local HTTPS mirror (tests/test_paper_miniature_book.py)
test-paper-mini: venv
	$(PY) -m pytest -m slow tests/test_paper_miniature_book.py $(PYTEST_ARGS)

# ruff (style); lint-imports (the layers contract in pyproject.toml: a module imports only its
# own layer and those below); deptry (every import declared, every declared package used) on
# the library, chapters and experiments, then on tests/ and benchmarks/, whose dev and bench
# extras are checked for undeclared (DEP001) and transitive-only (DEP003) imports.
LINT_PATHS := chromtransfer_lib tests benchmarks notebooks experiments book/_ext
lint: venv
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/deptry .
	$(VENV)/bin/deptry tests benchmarks --exclude '\.venv' --extend-exclude '\.venv' \
	  --ignore DEP002,DEP004

bench: venv
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf _build book/chapters
