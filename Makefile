# Every target here is what CI runs; .ci/run calls `make test`, then `make test-slow`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HYPOTHESIS_PROFILE ?= ci

.PHONY: install lint typecheck test test-slow test-all ci suite bench soak clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed; installing Debian's python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

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

# What CI runs (.ci/run): the fast loop, then the slow tests.
ci: test test-slow

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
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
