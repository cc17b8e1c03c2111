# Every target here is what CI runs; .ci/run calls `make test`, `make test-slow`, then `make test-lowest`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HYPOTHESIS_PROFILE ?= ci

.PHONY: install lock lint typecheck test test-slow test-all test-lowest ci suite bench soak clean

# pyproject.toml declares compatible ranges; constraints.txt (`make lock`) pins the exact
# versions every developer and CI install. uv comes first, at its locked version.
LOCK := constraints.txt
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed; installing Debian's python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --disable-pip-version-check "$$(grep '^uv==' $(LOCK))"
	$(VENV)/bin/uv pip install -q --python $(PY) -c $(LOCK) -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Re-pin constraints.txt after a change to pyproject.toml (UPGRADE=--upgrade moves every pin).
lock: install
	$(VENV)/bin/uv pip compile -q pyproject.toml --all-extras --universal --python-version 3.11 \
	  --custom-compile-command "make lock" $(UPGRADE) -o $(LOCK)

# The fast suite against the lowest version of every direct dependency that
# pyproject.toml allows, so its lower bounds stay true (CI runs it after `make test`).
LOWEST := .venv-lowest
test-lowest: install
	rm -rf $(LOWEST)
	$(VENV)/bin/uv venv -q --python $(PYTHON) $(LOWEST)
	$(VENV)/bin/uv pip install -q --python $(LOWEST)/bin/python --resolution lowest-direct -e '.[dev]'
	$(LOWEST)/bin/python -m pytest -q -p no:cacheprovider -m "not slow and not load"

lint: install
	$(VENV)/bin/ruff check harness tests bench conftest.py

typecheck: install
	$(VENV)/bin/mypy harness

# The fast suite, the developers' loop: everything but the tests marked slow.
test: lint typecheck
	$(PY) -m pytest -q -m "not slow"

# Debian's Chromium renders report.html to a PNG in tests/report/test_html.py.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# The slow tests alone (the Chromium screenshot, Dask's LocalCluster, `pytest -n 2`
# against `suite`, the 30 s platform default, defects beside CPU hogs, the named
# mutants); the screenshot fails rather than skips here when Chromium is missing.
test-slow: install $(CHROMIUM)
	IVR_REQUIRE_CHROMIUM=1 $(PY) -m pytest -q -m slow

# Everything in one run, the slow tests included.
test-all: install $(CHROMIUM)
	IVR_REQUIRE_CHROMIUM=1 $(PY) -m pytest -q

# What CI runs (.ci/run): the fast loop, the slow tests, the lowest versions.
ci: test test-slow test-lowest

# The nightly resilience suite on the embedded defaults.
suite: install
	$(VENV)/bin/ivr-harness suite

bench: install
	$(PY) bench/run.py --out bench/results.json

# The Trust bar (SPEC 9): the whole suite N times beside K busy CPU hogs.
# DEFECT=timeout-12s (or no-timeout-branch) plants a real defect that must fail every round.
N ?= 20
K ?= 2
soak: install
	$(PY) bench/soak.py --rounds $(N) --hogs $(K) $(if $(DEFECT),--defect $(DEFECT))

clean:
	rm -rf $(VENV) $(LOWEST) .mypy_cache .ruff_cache .pytest_cache
