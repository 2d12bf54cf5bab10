# Quick start: `make demo` runs the main job on real input, `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo run test test-deps worker clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

test-deps:
	bash tools/install-test-deps.sh

# Builds an image from real packages, pushes it to a local registry, analyzes and evaluates it.
demo: install test-deps
	$(BIN)/python -m tools.demo

# The API on HOST:PORT (default 127.0.0.1:8228) with an in-process worker.
run: install
	$(BIN)/python -m chalicelib.local

# A worker process that polls the SQS queue of QUEUE_URL.
worker: install
	$(BIN)/python -m chalicelib.worker

test: install test-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

clean:
	rm -rf $(VENV) .data .cache
