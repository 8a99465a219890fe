PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
CHECKED := emulator tests examples tools benchmarks

.PHONY: run test check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $(VENV)/.installed-test $@

run: $(VENV)/.installed
	$(BIN)/python -m emulator serve --host $(HOST) --port $(PORT) --fixtures fixtures

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

check: $(VENV)/.installed-dev
	$(BIN)/python -m ruff check $(CHECKED)
	$(BIN)/python -m mypy $(CHECKED)

# The emulator against a bare Starlette baseline on loopback (BENCHMARKS.md); a few minutes.
# Uses wrk when installed (apt-get install wrk), else the bounded Python load generator.
bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
