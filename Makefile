# Model Gateway. The README's two commands: `make up` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The platform's top-level packages (pyproject.toml lists them with their subpackages).
PACKAGES := audit authz backendspec cli consensus gateway mcpserver mesh modelgw rollouts scheduler settings workers loadtest
PROTO_FILES := $(wildcard protos/modelgateway/v1/*.proto)

.PHONY: up system-packages test-packages test install proto proto-check lint typecheck clean bench bench-smoke screenshots

# A virtualenv with the project (editable) and its dev tools; rebuilt when
# pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# PostgreSQL 15 and Redis 7 from Debian, installed only when missing. `make up` and
# the tests run them as private processes on their own ports, never the packages'
# system services. Quiet unless apt fails.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
system-packages:
	@if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null \
	    || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "Installing redis-server and postgresql (apt-get)..."; \
	  log=$$(mktemp); \
	  if ! { $(SUDO) apt-get update -qq \
	         && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	              apt-get install -y -qq --no-install-recommends redis-server postgresql; \
	       } >"$$log" 2>&1; then cat "$$log"; rm -f "$$log"; exit 1; fi; \
	  rm -f "$$log"; \
	fi

# The whole mesh as local processes, data under MODELGW_HOME (default ./.modelgw).
# Ctrl-C stops it.
up: install system-packages
	$(VENV)/bin/modelgw up

# Regenerate the committed Python code from protos/ (see tests/test_generated_code.py).
proto: install
	$(VENV)/bin/buf lint
	$(PY) protos/generate.py

lint: install
	$(VENV)/bin/buf lint
	$(VENV)/bin/ruff check $(PACKAGES) tests
	$(VENV)/bin/mypy $(PACKAGES)

# Debian's Chromium, for the browser test of /docs (Playwright drives it; it
# never downloads a browser of its own).
test-packages:
	@if ! command -v chromium >/dev/null; then \
	  echo "Installing chromium (apt-get) for the browser tests..."; \
	  log=$$(mktemp); \
	  if ! { $(SUDO) apt-get update -qq \
	         && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	              apt-get install -y -qq --no-install-recommends chromium; \
	       } >"$$log" 2>&1; then cat "$$log"; rm -f "$$log"; exit 1; fi; \
	  rm -f "$$log"; \
	fi

test: install system-packages test-packages
	$(VENV)/bin/pytest -q

# The load generator (loadtest/bench.py) against its own mesh on free ports: every
# scenario at 1 to 100,000 clients, beside a bare grpc.aio echo server and Celery; the
# execution and echo servers run as 2 processes each (--server-processes in BENCH_ARGS).
# First, on a mesh of its own with one process each, echo, SubmitJob and GetJob at
# 1,000 clients: the per-call cost of each call against echo's. About 25 minutes;
# writes loadtest/results/bench.json and docs/benchmarks.md.
BENCH_ARGS ?=
bench: install system-packages
	$(PY) -m loadtest.bench --markdown docs/benchmarks.md $(BENCH_ARGS)

# The same generator with tiny durations and client counts: that it works, not the figures.
bench-smoke: install system-packages
	$(PY) -m loadtest.bench --levels 1,10 --duration 0.25 --drain 10 \
	  --processes 0 --server-processes 1 --pause 0 --watch-finish 20 --jobs-per-user 4 --settle 0 \
	  --cost-levels 1 --cost-duration 0.25 --json $${BENCH_JSON:-/tmp/modelgw-bench-smoke.json}

# Every page of the web console in Chromium against a real mesh, at 1280 and 390 px:
# docs/console/*.png, shown by docs/console.md and the README.
screenshots: install system-packages test-packages
	MODELGW_SCREENSHOTS=1 $(VENV)/bin/pytest -q tests/console/test_screenshots.py

clean:
	rm -rf $(VENV) build *.egg-info
