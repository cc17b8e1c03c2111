"""junit.xml: the one JUnit writer, for suites and the gate alike.

The shape follows the Surefire/Jenkins JUnit XSD (junit-10.xsd), which CI systems
read. A suite run maps as CI should see it: one testsuite per flow set, one
testcase per scenario x flow set;

- `pass` is a passing testcase;
- `expected_failure` (a known defect of that flow set still detected) is
  `<skipped>` with the known defects as the reason, as the pytest route marks it
  xfail: CI shows it, and it fails nothing;
- `fail` is a `<failure>` whose message says, per failed check, what was expected
  and what happened;
- `unexpected_pass` is a `<failure>` "known defect no longer detected: ...", so a
  fixed defect gets its `known_defects` entry removed instead of rotting;
- `error` is an `<error>`: the harness could not run the scenario;
- `inconclusive` is `<skipped>` "inconclusive: ...": the harness measured its own
  lag covering the miss, even after a rerun, so the run proves nothing either way
  (not a red test, not a silent pass).

Times: runs of a suite run concurrently, so a testsuite's and the root's `time`
are the suite's wall time, never the sum of its runs.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.scenario.expectations import Check
    from harness.scenario.runner import RunResult, SuiteResult

__all__ = ["Case", "Suite", "failure_message", "render_junit", "suite_junit"]

# XML 1.0 cannot carry most control characters, even escaped; CI parsers reject them.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MESSAGE_MAX = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One testcase: passed, failed (the system under test), errored (the harness) or skipped."""

    name: str
    classname: str
    failure: str | None = None
    failure_type: str = "ContractFailure"
    message: str | None = None  # the one-line message; default: the first line of the text
    error: str | None = None
    skipped: str | None = None
    output: str = ""
    time_s: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Suite:
    """One testsuite."""

    name: str
    cases: Sequence[Case] = field(default_factory=tuple)
    time_s: float = 0.0
    timestamp: str | None = None
    properties: Sequence[tuple[str, str]] = ()


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\N{REPLACEMENT CHARACTER}", text)


def _first_line(text: str) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= _MESSAGE_MAX else line[: _MESSAGE_MAX - 1] + "…"


def _case(parent: ET.Element, case: Case) -> None:
    node = ET.SubElement(
        parent, "testcase", name=case.name, classname=case.classname, time=f"{case.time_s:.3f}"
    )
    if case.failure is not None:
        message = case.message if case.message is not None else _first_line(case.failure)
        child = ET.SubElement(node, "failure", type=case.failure_type, message=_clean(message))
        child.text = _clean(case.failure)
    if case.error is not None:
        message = case.message if case.message is not None else _first_line(case.error)
        child = ET.SubElement(node, "error", type="HarnessError", message=_clean(message))
        child.text = _clean(case.error)
    if case.skipped is not None:
        ET.SubElement(node, "skipped", message=_clean(_first_line(case.skipped)))
    if case.output:
        ET.SubElement(node, "system-out").text = _clean(case.output)


def render_junit(suites: Sequence[Suite], *, name: str = "", time_s: float | None = None) -> str:
    """junit.xml text (UTF-8, with an XML declaration)."""
    cases = [c for s in suites for c in s.cases]
    root = ET.Element("testsuites")
    if name:
        root.set("name", name)
    root.set("tests", str(len(cases)))
    root.set("failures", str(sum(c.failure is not None for c in cases)))
    root.set("errors", str(sum(c.error is not None for c in cases)))
    root.set("time", f"{time_s if time_s is not None else sum(s.time_s for s in suites):.3f}")
    for suite in suites:
        node = ET.SubElement(
            root,
            "testsuite",
            name=suite.name,
            tests=str(len(suite.cases)),
            failures=str(sum(c.failure is not None for c in suite.cases)),
            errors=str(sum(c.error is not None for c in suite.cases)),
            skipped=str(sum(c.skipped is not None for c in suite.cases)),
            time=f"{suite.time_s:.3f}",
        )
        if suite.timestamp:
            node.set("timestamp", suite.timestamp)
        if suite.properties:
            props = ET.SubElement(node, "properties")
            for key, value in suite.properties:
                ET.SubElement(props, "property", name=key, value=_clean(value))
        for case in suite.cases:
            _case(node, case)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


# -- a suite run as JUnit -------------------------------------------------------------


def _check_line(check: Check) -> str:
    return f"{check.title}: expected {check.expected}, got {check.actual}"


def failure_message(run: RunResult) -> str:
    """One line for CI annotations: every new failed check, expected vs actual."""
    if run.verdict == "unexpected_pass":
        return "known defect no longer detected: " + "; ".join(run.cleared_defects())
    new = [c for c in run.failures() if not c.known_defect]
    text = f"{len(new)} of {len(run.checks)} checks failed: " + "; ".join(map(_check_line, new))
    return text if len(text) <= _MESSAGE_MAX else text[: _MESSAGE_MAX - 1] + "…"


def _details(run: RunResult) -> str:
    lines = []
    for check in run.checks:
        mark = "PASS" if check.passed else ("KNOWN" if check.known_defect else "FAIL")
        mark = "INCONCLUSIVE" if check.inconclusive else mark
        lines.append(f"[{mark}] {check.title}")
        if not check.passed:
            lines.append(f"    expected: {check.expected}")
            lines.append(f"    actual:   {check.actual}")
    return "\n".join(lines)


def _system_out(run: RunResult) -> str:
    head = [f"{run.id}: {run.verdict}, {len(run.calls)} calls, {run.wall_ms:,.0f} ms"]
    if run.verdict == "expected_failure":
        head.append("known defects still present (expected failure):")
        head.extend(f"  - {_check_line(c)}" for c in run.failures() if c.known_defect)
    outcomes = ", ".join(f"{c.call_id}={c.outcome}" for c in run.calls)
    if outcomes:
        head.append(f"calls: {outcomes}")
    return "\n".join(head) + "\n\n" + _details(run) + "\n"


def _run_case(run: RunResult) -> Case:
    classname = run.scenario.path.stem if run.scenario.path else run.scenario.name
    common: dict[str, Any] = {
        "name": run.id,
        "classname": classname,
        "time_s": run.wall_ms / 1000,
        "output": _system_out(run),
    }
    if run.verdict == "error":
        return Case(**common, error=run.error)
    if run.verdict == "fail":
        return Case(**common, failure=_details(run), message=failure_message(run))
    if run.verdict == "unexpected_pass":
        fix = "Remove these titles from known_defects in the scenario file:\n" + "\n".join(
            f"  - {t}" for t in run.cleared_defects()
        )
        return Case(
            **common,
            failure=fix,
            failure_type="UnexpectedPass",
            message=failure_message(run),
        )
    if run.verdict == "expected_failure":
        known = "; ".join(c.title for c in run.failures() if c.known_defect)
        return Case(**common, skipped=f"known defect: {known}")
    if run.verdict == "inconclusive":
        unclear = "; ".join(map(_check_line, (c for c in run.checks if c.inconclusive)))
        return Case(**common, skipped=f"inconclusive: {unclear}")
    return Case(**common)


def suite_junit(suite: SuiteResult) -> str:
    """junit.xml text for a suite run: a testsuite per flow set."""
    by_flow_set: dict[str, list[RunResult]] = {}
    for run in suite.runs:
        by_flow_set.setdefault(run.flow_set, []).append(run)
    suites = [
        Suite(
            name=name,
            cases=[_run_case(r) for r in runs],
            time_s=suite.wall_ms / 1000,
            timestamp=suite.started_at,
            properties=[("run_id", suite.run_id), ("toxiproxy", suite.toxiproxy)],
        )
        for name, runs in by_flow_set.items()
    ]
    return render_junit(suites, name=f"ivr-harness {suite.run_id}", time_s=suite.wall_ms / 1000)
