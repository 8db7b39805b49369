# Model Gateway. The README's two commands: `make up` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PROTO_FILES := $(wildcard protos/modelgateway/v1/*.proto)

.PHONY: up test install proto proto-check lint typecheck clean

# A virtualenv with the project (editable) and its dev tools; rebuilt when
# pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Regenerate the committed Python code from protos/ (see tests/test_generated_code.py).
proto: install
	$(VENV)/bin/buf lint
	$(PY) protos/generate.py

lint: install
	$(VENV)/bin/buf lint
	$(VENV)/bin/ruff check gateway authz scheduler workers tests
	$(VENV)/bin/mypy gateway authz scheduler workers

test: install system-packages
	$(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
