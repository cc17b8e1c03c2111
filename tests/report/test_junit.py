"""junit.xml validates against the JUnit XSD and says what was expected and what happened."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.report.junit import suite_junit
from harness.scenario.runner import SuiteResult

XSD = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "schemas" / "junit-10.xsd"


def _cases(suite: SuiteResult) -> dict[str, ET.Element]:
    root = ET.fromstring(suite_junit(suite))
    return {c.get("name", ""): c for c in root.iter("testcase")}


def test_validates_against_the_junit_xsd(any_suite: SuiteResult) -> None:
    if not XSD.exists():
        pytest.skip(f"JUnit XSD not available at {XSD}")
    xmlschema = pytest.importorskip("xmlschema", reason="xmlschema is a test extra")
    schema = xmlschema.XMLSchema(str(XSD))
    errors = [str(e.reason) for e in schema.iter_errors(suite_junit(any_suite))]
    assert errors == []


def test_one_testsuite_per_flow_set(happy_suite: SuiteResult) -> None:
    root = ET.fromstring(suite_junit(happy_suite))
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"hardened", "seed"}
    for name, element in suites.items():
        (case,) = element.findall("testcase")
        assert case.get("name") == f"happy-path[{name}]"
        assert case.get("classname") == "happy-path"  # the scenario file stem


def test_failure_says_expected_and_actual(fake_suite: SuiteResult) -> None:
    (failure,) = _cases(fake_suite)["storm[hardened]"].findall("failure")
    message = failure.get("message", "")
    assert message.startswith("1 of 2 checks failed: no dead end")
    assert "expected transfer:agent-queue, got call-1: ended in dead_end at confirm" in message
    assert "\x07" not in message  # XML 1.0 cannot carry it
    assert "expected: transfer:agent-queue" in (failure.text or "")


def test_expected_failure_is_skipped_with_the_known_defect_as_reason(
    fake_suite: SuiteResult,
) -> None:
    root = ET.fromstring(suite_junit(fake_suite))
    case = _cases(fake_suite)["storm[seed]"]
    assert case.find("failure") is None and case.find("error") is None
    (skipped,) = case.findall("skipped")
    assert skipped.get("message") == "known defect: every call ends in transfer:agent-queue"
    out = case.findtext("system-out") or ""
    assert "known defects still present" in out
    assert "every call ends in transfer:agent-queue: expected" in out
    seed = next(s for s in root.findall("testsuite") if s.get("name") == "seed")
    assert (seed.get("skipped"), seed.get("failures")) == ("1", "1")  # storm known, fixed cleared


def test_times_are_wall_time_not_the_sum_of_concurrent_runs(fake_suite: SuiteResult) -> None:
    root = ET.fromstring(suite_junit(fake_suite))
    assert sum(r.wall_ms for r in fake_suite.runs) > fake_suite.wall_ms  # they overlapped
    assert root.get("time") == "1.500"
    assert {s.get("time") for s in root.findall("testsuite")} == {"1.500"}


def test_unexpected_pass_is_a_failure(fake_suite: SuiteResult) -> None:
    (failure,) = _cases(fake_suite)["fixed[seed]"].findall("failure")
    assert failure.get("message") == (
        "known defect no longer detected: every call ends in transfer:agent-queue"
    )


def test_error_is_an_error(fake_suite: SuiteResult) -> None:
    root = ET.fromstring(suite_junit(fake_suite))
    (error,) = _cases(fake_suite)["broken[hardened]"].findall("error")
    assert "cannot reach toxiproxy" in error.get("message", "")
    hardened = next(s for s in root.findall("testsuite") if s.get("name") == "hardened")
    assert (hardened.get("tests"), hardened.get("failures"), hardened.get("errors")) == (
        "3", "1", "1",
    )  # fmt: skip


def test_real_seed_run_is_an_expected_failure(happy_suite: SuiteResult) -> None:
    # happy-path.yaml lists the seed's four known defects: exactly those fail, so the
    # run is an expected failure, and JUnit shows it skipped with that reason, not failed.
    seed = _cases(happy_suite)["happy-path[seed]"]
    run = next(r for r in happy_suite.runs if r.flow_set == "seed")
    assert run.verdict == "expected_failure", [c.title for c in run.failures()]
    assert seed.find("failure") is None and seed.find("error") is None
    skipped = seed.find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith("known defect: ")
    assert "known defects still present" in (seed.findtext("system-out") or "")
