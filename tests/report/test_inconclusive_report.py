"""An inconclusive run in every report: listed loudly, never red, never a silent pass."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

from harness.errors import exit_code
from harness.report.junit import suite_junit
from harness.report.markdown import render_markdown
from harness.report.results import suite_json
from harness.scenario.expectations import Check
from harness.scenario.model import Scenario
from harness.scenario.runner import RunResult, SuiteResult

SCHEMA = Path(__file__).resolve().parents[2] / "contracts" / "schemas" / "results.schema.json"


def _suite() -> SuiteResult:
    unclear = Check(
        title="no silence longer than 8000 ms",
        passed=False,
        expected="longest silence <= 8000 ms (+800 noise)",
        actual="inconclusive: the machine was overloaded (lag 2400 ms): call-1: silent for 9625 ms",
        inconclusive=True,
        lag_ms=2400.0,
    )
    run = RunResult(
        scenario=Scenario(name="held", path=None),
        flow_set="hardened",
        verdict="inconclusive",
        checks=[unclear, Check(title="outcome", passed=True, expected="x", actual="x")],
        wall_ms=900.0,
        lag_ms=5100.0,
        lag_max_ms=2400.0,
        reruns=[{"verdict": "inconclusive", "wall_ms": 950.0, "lag_ms": 4000.0,
                 "inconclusive": [{"title": unclear.title, "actual": "x", "lag_ms": 1900.0}]}],
    )  # fmt: skip
    return SuiteResult(
        run_id="20260101T000000Z-abc123",
        started_at="2026-01-01T00:00:00+00:00",
        runs=[run],
        wall_ms=1000.0,
        toxiproxy="embedded",
    )


def test_results_json_validates_and_the_suite_exits_0() -> None:
    suite = _suite()
    document = suite_json(suite)
    validator = Draft202012Validator(json.loads(SCHEMA.read_text()), format_checker=FormatChecker())
    assert [e.message for e in validator.iter_errors(document)] == []
    assert document["verdict"] == "inconclusive" and document["exit_code"] == 0
    assert exit_code("inconclusive") == 0
    [run] = document["runs"]
    assert run["harness_lag"] == {"total_ms": 5100.0, "longest_ms": 2400.0}
    assert run["checks"][0]["inconclusive"] is True and run["checks"][0]["passed"] is False
    assert len(run["reruns"]) == 1


def test_junit_marks_it_skipped_with_the_lag() -> None:
    xml = suite_junit(_suite())
    assert 'skipped="1"' in xml and 'failures="0"' in xml
    assert "<skipped" in xml and "lag 2400 ms" in xml


def test_markdown_lists_it() -> None:
    assert "inconclusive" in render_markdown(_suite())
