"""junit.xml: one testsuite per flow set, one testcase per scenario x flow set.

The shape follows the Surefire/Jenkins JUnit XSD (junit-10.xsd), which CI systems
read. Verdicts map as CI should see them:

- `pass` and `expected_failure` are passing testcases; an expected failure lists
  its still-present known defects in `system-out`, and as testsuite properties
  (the XSD has no testcase-level properties);
- `fail` is a `<failure>` whose message says, per failed check, what was
  expected and what happened;
- `unexpected_pass` is a `<failure>` "known defect no longer detected: ...", so
  a fixed defect gets its `known_defects` entry removed instead of rotting;
- `error` is an `<error>`: the harness could not run the scenario;
- `inconclusive` is `<skipped>` "inconclusive: the machine was overloaded": the
  harness measured its own lag covering the miss, even after a rerun, so the
  run proves nothing either way (not a red test, not a silent pass).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from harness.report.results import known_defects_cleared
from harness.scenario.expectations import Check
from harness.scenario.runner import RunResult, SuiteResult

__all__ = ["failure_message", "render_junit"]

# XML 1.0 cannot carry most control characters, even escaped; CI parsers reject them.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MESSAGE_MAX = 2000


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\N{REPLACEMENT CHARACTER}", text)


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.3f}"


def _check_line(check: Check) -> str:
    return f"{check.title}: expected {check.expected}, got {check.actual}"


def failure_message(run: RunResult) -> str:
    """One line for CI annotations: every new failed check, expected vs actual."""
    if run.verdict == "unexpected_pass":
        return "known defect no longer detected: " + "; ".join(known_defects_cleared(run))
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
        known = [c for c in run.failures() if c.known_defect]
        head.append("known defects still present (expected failure):")
        head.extend(f"  - {_check_line(c)}" for c in known)
    outcomes = ", ".join(f"{c.call_id}={c.outcome}" for c in run.calls)
    if outcomes:
        head.append(f"calls: {outcomes}")
    return "\n".join(head) + "\n\n" + _details(run) + "\n"


def _testcase(parent: ET.Element, run: RunResult) -> None:
    classname = run.scenario.path.stem if run.scenario.path else run.scenario.name
    case = ET.SubElement(
        parent, "testcase", name=run.id, classname=classname, time=_seconds(run.wall_ms)
    )
    if run.verdict == "error":
        err = ET.SubElement(case, "error", type="HarnessError", message=_clean(run.error))
        err.text = _clean(run.error)
    elif run.verdict == "fail":
        fail = ET.SubElement(
            case, "failure", type="ContractFailure", message=_clean(failure_message(run))
        )
        fail.text = _clean(_details(run))
    elif run.verdict == "unexpected_pass":
        fail = ET.SubElement(
            case, "failure", type="UnexpectedPass", message=_clean(failure_message(run))
        )
        fail.text = _clean(
            "Remove these titles from known_defects in the scenario file:\n"
            + "\n".join(f"  - {t}" for t in known_defects_cleared(run))
        )
    elif run.verdict == "inconclusive":
        unclear = "; ".join(map(_check_line, (c for c in run.checks if c.inconclusive)))
        skip = ET.SubElement(case, "skipped", message=_clean(f"inconclusive: {unclear}"))
        skip.text = _clean(_details(run))
    ET.SubElement(case, "system-out").text = _clean(_system_out(run))


def _properties(parent: ET.Element, suite: SuiteResult, runs: Sequence[RunResult]) -> None:
    props = ET.SubElement(parent, "properties")
    ET.SubElement(props, "property", name="run_id", value=suite.run_id)
    ET.SubElement(props, "property", name="toxiproxy", value=suite.toxiproxy)
    for run in runs:
        if run.verdict != "expected_failure":
            continue
        for check in run.failures():
            ET.SubElement(
                props, "property", name=f"known_defect[{run.id}]", value=_clean(check.title)
            )


def _testsuite(root: ET.Element, suite: SuiteResult, name: str, runs: list[RunResult]) -> None:
    element = ET.SubElement(
        root,
        "testsuite",
        name=name,
        tests=str(len(runs)),
        failures=str(sum(1 for r in runs if r.verdict in ("fail", "unexpected_pass"))),
        errors=str(sum(1 for r in runs if r.verdict == "error")),
        skipped=str(sum(1 for r in runs if r.verdict == "inconclusive")),
        time=_seconds(sum(r.wall_ms for r in runs)),
        timestamp=suite.started_at,
    )
    _properties(element, suite, runs)
    for run in runs:
        _testcase(element, run)


def render_junit(suite: SuiteResult) -> str:
    """junit.xml text for a suite (UTF-8, with an XML declaration)."""
    by_flow_set: dict[str, list[RunResult]] = {}
    for run in suite.runs:
        by_flow_set.setdefault(run.flow_set, []).append(run)
    root = ET.Element(
        "testsuites",
        name=f"ivr-harness {suite.run_id}",
        tests=str(len(suite.runs)),
        failures=str(sum(1 for r in suite.runs if r.verdict in ("fail", "unexpected_pass"))),
        errors=str(sum(1 for r in suite.runs if r.verdict == "error")),
        time=_seconds(suite.wall_ms),
    )
    for name, runs in by_flow_set.items():
        _testsuite(root, suite, name, runs)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
