"""Hostile-input fuzz: long and deep JSONPaths, templates, expressions and specs.

Each example puts one drawn input where a flow (or the CRM spec) holds one, and runs a
command on it in a real process. Whatever the input, the command must end within a
budget linear in the input's size, with exit 0, 1 or 2, and without a traceback: a
segfault (139), a hang or a quadratic blow-up fails the example, and Hypothesis shrinks
it to the smallest input that still fails, kept on disk with the one command that
reproduces it. The budgets are generous (30 s plus 30 s per MB) and catch only
super-linear work: 200 KB that took seconds per pass would take minutes squared.

`make test` draws a few examples per class (``IVR_HOSTILE_COUNT``, default 4); the
nightly profile (``HYPOTHESIS_PROFILE=nightly``) draws 300 per class, up to 2 MB each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.hostile import strategies as hs
from tests.hostile.helpers import HARDENED, SPECS, hostile_flows

ROOT = Path(__file__).resolve().parents[2]
_NIGHTLY = os.environ.get("HYPOTHESIS_PROFILE") == "nightly"
COUNT = int(os.environ.get("IVR_HOSTILE_COUNT", "300" if _NIGHTLY else "4"))
MAX_SIZE = 2_000_000 if _NIGHTLY else 200_000
MAX_PATHS = 40_000 if _NIGHTLY else 2_000
FUZZ = settings(
    max_examples=COUNT,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_SECONDS_PER_MB = 30.0
_BASE_S = 30.0
# Each example is bounded by its own budget; the test as a whole (every example, the two
# explicit ones, a shrink) by the sum, not by the 60 s default that suits the quick draw
# but cuts a nightly one off mid-way (a pytest-timeout there is no finding).
pytestmark = pytest.mark.timeout(
    int(3 * (COUNT + 2) * (_BASE_S + _SECONDS_PER_MB * MAX_SIZE / 1_000_000))
)

Edit = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], None]


def _site(name: str, text: str) -> Edit:
    def edit(doc: dict[str, Any], http: dict[str, Any], router: dict[str, Any]) -> None:
        cfg = http["configuration"]
        if name == "mapping":
            cfg["responseMapping"]["integration_status"] = text
        elif name == "url":
            cfg["url"] = "https://api.crm-provider.com/v2/accounts?phone=" + text
        elif name == "header":
            cfg["headers"]["X-Request-Id"] = text
        elif name == "condition":
            router["configuration"]["conditions"][0]["expression"] = text
        else:  # a DataAPI evaluate step
            step = next(s for s in doc["steps"] if s["id"] == "mark-found")
            step["configuration"]["expression"] = text

    return edit


SITES = ("mapping", "url", "header", "condition", "evaluate")
COMMANDS = ("lint", "diff", "call")


def _run(args: list[str], size: int, folder: Path) -> None:
    budget = _BASE_S + _SECONDS_PER_MB * size / 1_000_000
    command = [sys.executable, "-m", "harness.cli", *args]
    reproduce = f"reproduce: ivr-harness {' '.join(args)}  (inputs kept in {folder})"
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=budget,
            env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"over its budget of {budget:.0f} s for {size} characters; {reproduce}")
    took = time.monotonic() - started
    assert done.returncode in (0, 1, 2), f"exit {done.returncode} after {took:.1f} s; {reproduce}"
    for marker in ("Traceback", "Exception ignored", "Fatal Python error"):
        assert marker not in done.stderr, f"{marker}: {done.stderr[-1500:]}\n{reproduce}"
    if done.returncode == 2:
        assert done.stderr.startswith("error: "), f"{done.stderr[-500:]}\n{reproduce}"


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


def _flow_case(cases: Path, site: str, text: str, command: str) -> None:
    folder = Path(tempfile.mkdtemp(dir=cases))
    flows = hostile_flows(folder / "flows", _site(site, text))
    args = {
        "lint": ["lint", str(flows)],
        "diff": ["diff", str(HARDENED), str(flows)],
        "call": [
            "call", str(flows), "--flow", "customer-lookup-ivr", "--skip-audio",
            "--dtmf", "4155552671#",
        ],
    }[command]  # fmt: skip
    _run(args, len(text), folder)


@FUZZ
@given(
    text=hs.jsonpaths(MAX_SIZE), site=st.sampled_from(SITES), command=st.sampled_from(COMMANDS)
)
@example(text="$" + "[0]" * 50_000, site="mapping", command="lint")  # SIGSEGV, issue 20 #1
@example(text="$" + "..*" * 20_000, site="mapping", command="call")
def test_jsonpaths(cases: Path, text: str, site: str, command: str) -> None:
    _flow_case(cases, site, text, command)


@FUZZ
@given(
    text=hs.templates(MAX_SIZE), site=st.sampled_from(SITES), command=st.sampled_from(COMMANDS)
)
@example(text="{{a}}" * 5_000, site="url", command="lint")  # 17.5 s, issue 20 #4
@example(text="{{" * 40_000, site="condition", command="lint")  # a quadratic regex
def test_templates(cases: Path, text: str, site: str, command: str) -> None:
    _flow_case(cases, site, text, command)


@FUZZ
@given(
    text=hs.expressions(MAX_SIZE), site=st.sampled_from(SITES), command=st.sampled_from(COMMANDS)
)
@example(text=" || ".join(["a == 1"] * 50_000), site="condition", command="diff")  # > 60 s
@example(text="a" + ".b" * 100_000, site="condition", command="lint")  # 29 s
def test_expressions(cases: Path, text: str, site: str, command: str) -> None:
    _flow_case(cases, site, text, command)


@FUZZ
@given(spec=hs.specs(MAX_PATHS), as_yaml=st.booleans())
def test_specs(cases: Path, spec: dict[str, Any], as_yaml: bool) -> None:
    folder = Path(tempfile.mkdtemp(dir=cases))
    path = folder / ("crm.yaml" if as_yaml else "crm.json")
    text = yaml.safe_dump(spec) if as_yaml else json.dumps(spec)
    path.write_text(text, encoding="utf-8")
    specs = [f"api.crm-provider.com={path}" if "crm.yaml" in s else s for s in SPECS]
    _run(["contract", str(HARDENED), *specs, "--max-examples", "5"], len(text), folder)
