# Two commands for a fresh machine: `make demo` and `make test`.
# Both create .venv, install the package with its test and docs tools, and run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ARGS ?=

.PHONY: demo test test-scverse docs bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned, so pip takes the CPU wheel on this machine's disk
	# instead of resolving the range in setup.cfg to a multi-GB CUDA build.
	$(BIN)/python -m pip install "torch==2.13.0"
	$(BIN)/python -m pip install -e ".[test,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m skmmae.demo $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -x -q

# The AnnData/MuData bridge: anndata and mudata need pandas < 3 on Python
# 3.11, so their tests run in an environment of their own.
SCVERSE := .venv-scverse
$(SCVERSE)/.installed-stamp: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(SCVERSE)
	$(SCVERSE)/bin/python -m pip install "torch==2.13.0"
	$(SCVERSE)/bin/python -m pip install -e ".[test,scverse]"
	touch $@

test-scverse: $(SCVERSE)/.installed-stamp
	$(SCVERSE)/bin/python -m pytest -q -p no:cacheprovider tests/test_io.py skmmae/io.py

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) $(SCVERSE) docs/_build docs/generated *.egg-info
