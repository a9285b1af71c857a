# Two commands do all the set-up on a fresh clone: `make serve` and `make test`.
# The virtualenv is refreshed only when pyproject.toml changes, so both are quick when nothing did.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PIP_QUIET ?= -q
# After an (editable) install the project's bytecode is written, as pip does for what it
# installs: a first run cannot under PYTHONDONTWRITEBYTECODE, and each start would compile it.
COMPILE = $(BIN)/python -m compileall -q cli server bench >/dev/null

.PHONY: serve test lint install install-test bench clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "fpx needs Python >= 3.11 (python3.11 or newer on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_QUIET) --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_QUIET) -e .
	@$(COMPILE)
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_QUIET) -e '.[test]'
	@$(COMPILE)
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

serve: $(VENV)/.installed
	$(BIN)/python -m server

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The bench extra brings HTTPie; wrk, hey and curl come from apt-get (python -m bench installs
# them when it runs as root). Whatever cannot be had is said, and its rows are skipped.
$(VENV)/.installed-bench: $(VENV)/.installed
	@$(BIN)/python -m pip install $(PIP_QUIET) -e '.[bench]' && touch $@ \
		|| echo "bench: could not install the bench extra (HTTPie): its rows are skipped"

bench: $(VENV)/.installed-bench
	@$(COMPILE)  # sources changed since the install would be compiled at every start
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
