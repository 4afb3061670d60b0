# Two commands do all set-up on a fresh clone (only python3 >= 3.10 and make needed):
#   make book   build the book into _build/html
#   make test   everything CI checks (.ci/run calls it)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
# CI and this Makefile pin a CPU build of torch; the library itself only needs torch>=2.5.
TORCH_PIN := torch==2.13.0
JOBS ?= 2
# Labs, exercises, and chapter pages that run code (they have a kernelspec): each has a Colab .ipynb.
PAIRED := $(shell grep -l '^kernelspec:' book/*.md notebooks/*.md exercises/*.md 2>/dev/null)
PAIRED_IPYNB := $(PAIRED:.md=.ipynb)
LAB_IPYNB := $(wildcard notebooks/*.ipynb)

.PHONY: all setup book lite browser test lint unit colab notebooks pairing html-check clean

all: book

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

book: $(STAMP)
	$(BIN)/jupyter-book build . -W --keep-going
	$(MAKE) --no-print-directory lite
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

# The exercises in the browser: a JupyterLite site in _build/html/lite (about 15 s; Pyodide from
# npm and the kernel's wheels from PyPI, cached in _build/lite-cache). See scripts/build_lite.py.
lite: $(STAMP)
	$(PY) scripts/build_lite.py

# The browser test (tests/test_lite_site.py) drives Debian's chromium; install it when missing.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "make browser: no chromium; install Debian's chromium (the browser test skips)"; fi; }

test: $(STAMP)
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint unit pairing book html-check; \
	echo "make test: all checks passed in $$(( $$(date +%s) - start )) s"

lint: $(STAMP)
	$(BIN)/ruff check lib tests scripts _ext

# The library's unit tests, the grading pipeline, and each exercise run with reference solutions
# (the exercises as the reader gets them run in the book build; html-check reads their scores).
unit: $(STAMP)
	$(PY) -m pytest -n $(JOBS) tests --ignore=tests/test_book_html.py --ignore=tests/test_lite_site.py

# The Colab path as a reader meets it (part of `unit`; about a minute): the wheel built from this
# tree, installed by a notebook's own install cell into a fresh venv holding only what Colab ships,
# runs a lab, an exercise and chapter 2 with no network in the kernel (tests/test_colab_wheel.py).
colab: $(STAMP)
	$(PY) -m pytest tests/test_colab_wheel.py

# Every lab as the reader gets it (the Colab .ipynb), top to bottom on CPU. Not part of `make test`:
# the strict book build already runs every lab, chapter and exercise once, from the .md that
# `pairing` keeps equal to its .ipynb.
notebooks: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --nbmake --nbmake-timeout=600 $(LAB_IPYNB)

# Each .ipynb must be what jupytext makes from its .md (run `jupytext --sync` to fix).
pairing: $(STAMP)
	$(BIN)/jupytext --to ipynb --update $(PAIRED)
	git diff --exit-code -- $(PAIRED_IPYNB)

# Reads the built HTML: pages, images, internal links and Colab links; then the JupyterLite site,
# and an exercise run in headless Chromium from its page's button (about 30 s).
html-check: $(STAMP) browser
	TOKENMATH_REQUIRE_BOOK=1 $(PY) -m pytest tests/test_book_html.py tests/test_lite_site.py

clean:
	rm -rf _build .pytest_cache .hypothesis
