"""Verdicts: one run's from its checks, a suite's from its runs (exit codes: `harness.errors`).

- `error`: the harness could not run it.
- `fail`: a check failed for real that is not a known defect.
- `unexpected_pass`: a known defect's check held; the harness lost its teeth.
- `inconclusive`: nothing failed for real, but a check (a known defect's
  included) missed its upper bound only by less than the scheduling lag the
  harness measured in itself in that window: the machine was overloaded, and
  the run proves nothing either way.
- `expected_failure`: exactly the known defects failed.
- `pass`: every check held.

A real failure outranks an inconclusive check: a red flow stays red however
loaded the machine was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from harness.scenario.expectations import Check

__all__ = ["OK_VERDICTS", "run_verdict", "suite_verdict"]

OK_VERDICTS = frozenset({"pass", "expected_failure"})


def run_verdict(
    known_defects: Mapping[str, Sequence[str]], flow_set: str, checks: Iterable[Check]
) -> tuple[str, list[Check]]:
    """The run's verdict, and its checks marked with whether each is a known defect."""
    known = set(known_defects.get(flow_set, ()))
    marked = [
        Check(
            title=c.title,
            passed=c.passed,
            expected=c.expected,
            actual=c.actual,
            known_defect=c.title in known,
            inconclusive=c.inconclusive,
            lag_ms=c.lag_ms,
        )
        for c in checks
    ]
    failed = {c.title for c in marked if c.failed}
    unclear = {c.title for c in marked if c.inconclusive}
    if failed - known:
        return "fail", marked
    if known - failed - unclear:
        return "unexpected_pass", marked
    if unclear:
        return "inconclusive", marked
    return ("expected_failure" if known else "pass"), marked


def suite_verdict(verdicts: Iterable[str]) -> str:
    """`error` > `fail` (a fail or an unexpected pass) > `inconclusive` > `pass`."""
    seen = set(verdicts)
    if "error" in seen:
        return "error"
    if seen & {"fail", "unexpected_pass"}:
        return "fail"
    if "inconclusive" in seen:
        return "inconclusive"
    return "pass"

