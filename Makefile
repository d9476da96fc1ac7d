# One command sets up and runs the study, one sets up and passes the tests:
#
#   make run      # kedro run, in .venv
#   make test     # pytest, in .venv (installs Debian's Chromium if missing)
#
# Both create .venv and install requirements.lock (every package pinned and
# hash-checked) when .venv is missing or older than the lock or pyproject.toml.
# `make lock` rewrites the lock after a dependency changes in pyproject.toml.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export KEDRO_DISABLE_TELEMETRY := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test lint chromium lock

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

run: install
	$(BIN)/kedro run

test: install chromium
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check src tests notebooks benchmarks
	$(BIN)/ruff format --check src tests notebooks benchmarks

# Debian's Chromium, for tests/test_viz_browser.py (Playwright drives it).
chromium:
	@[ -x /usr/bin/chromium ] || { \
	  SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# Resolved for every platform and Python >= 3.10 by uv, installed by plain pip;
# lock-pins.txt holds the pins and .ci/lock_extras.py why uvicorn is pinned twice.
lock: install
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal \
	  --python-version 3.10 --generate-hashes -c lock-pins.txt -o requirements.lock
	$(BIN)/python .ci/lock_extras.py requirements.lock uvicorn standard
