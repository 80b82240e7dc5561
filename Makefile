# Two commands a reader needs: `make book` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
# Point the MNIST loader at ../shared/data when it exists (CI and the project's machines);
# otherwise optlib downloads MNIST once into ~/.cache/optlib/mnist.
SHARED_DATA := $(abspath ../shared/data)
ifeq ($(strip $(OPTLIB_DATA_DIR)),)
ifneq ($(wildcard $(SHARED_DATA)/mnist),)
export OPTLIB_DATA_DIR := $(SHARED_DATA)
endif
endif
# Tests and notebooks run two at a time on two cores: one torch thread each avoids oversubscription.
PYTEST_WORKERS ?= 2

.PHONY: book test unit notebooks browser-test lint format strip bench clean help

help:
	@echo "make book   - create .venv, install, execute every chapter and build the HTML book"
	@echo "make test   - create .venv if needed, run unit tests and every chapter and appendix page (nbmake)"
	@echo "make browser-test - after make book: headless Chromium checks every page of the HTML"
	@echo "make lint   - ruff on optlib, tests and notebooks; notebooks must carry no outputs"
	@echo "make bench  - benchmarks (python benchmarks/bench.py)"

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --upgrade pip >/dev/null
	$(PYTHON) -m pip install -r requirements.txt
	touch $@

# -W -n --keep-going: any warning (broken reference, unknown citation, failing cell) fails the build.
book: $(VENV)/.installed
	@mkdir -p _build
	set -o pipefail; OMP_NUM_THREADS=1 OPTLIB_PROGRESS=0 $(VENV)/bin/jupyter-book build . -W -n --keep-going 2>&1 | tee _build/build.log
	@echo "Chapter execution times:"
	@grep -oE '[^/]+\.ipynb: Executed notebook in [0-9.]+ seconds' _build/build.log || true
	@echo "HTML book: $(abspath _build/html/index.html)"

test: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(PYTHON) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup \
		tests --ignore=tests/browser --nbmake chapters appendix --nbmake-timeout=600 --durations=15

unit: $(VENV)/.installed
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) tests --ignore=tests/browser

# The built HTML in a real browser (Debian's chromium + chromium-driver): MathJax, images, search,
# the interactive figures, error outputs; full-page screenshots land in _build/screenshots/. Run after `book`.
browser-test: $(VENV)/.installed
	$(PYTHON) -m pytest tests/browser

notebooks: $(VENV)/.installed
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) --nbmake chapters appendix --nbmake-timeout=600 --durations=10

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/nbstripout --verify chapters/*.ipynb

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/nbstripout --keep-metadata-keys cell.metadata.tags chapters/*.ipynb

bench: $(VENV)/.installed
	$(PYTHON) benchmarks/bench.py

clean:
	rm -rf _build .pytest_cache .ruff_cache
