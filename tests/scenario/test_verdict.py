"""Run and suite verdicts from checks, every branch, in-process (harness/scenario/verdict.py)."""

from __future__ import annotations

import pytest

from harness.scenario.checks import Check
from harness.scenario.verdict import OK_VERDICTS, run_verdict, suite_verdict

KNOWN = {"seed": ["tone instead of an agent", "no case number"]}


def check(title: str, *, passed: bool = True, inconclusive: bool = False) -> Check:
    return Check(title=title, passed=passed, expected="e", actual="a", inconclusive=inconclusive)


HELD = check("calls reach an agent")
TONE = check("tone instead of an agent", passed=False)
CASE = check("no case number", passed=False)
OTHER = check("dead air under budget", passed=False)


@pytest.mark.parametrize(
    ("flow_set", "checks", "verdict"),
    [
        ("hardened", [HELD], "pass"),
        ("hardened", [HELD, OTHER], "fail"),
        ("seed", [HELD, TONE, CASE], "expected_failure"),  # exactly the known defects
        ("seed", [TONE, CASE, OTHER], "fail"),  # a real failure besides them
        ("seed", [HELD, TONE], "unexpected_pass"),  # a known defect no longer detected
        ("seed", [TONE, check("no case number", passed=False, inconclusive=True)], "inconclusive"),
        ("hardened", [HELD, check("x", passed=False, inconclusive=True)], "inconclusive"),
        ("hardened", [OTHER, check("x", passed=False, inconclusive=True)], "fail"),  # red wins
    ],
)
def test_run_verdict(flow_set: str, checks: list[Check], verdict: str) -> None:
    assert run_verdict(KNOWN, flow_set, checks)[0] == verdict


def test_run_verdict_marks_exactly_the_known_defects() -> None:
    _, marked = run_verdict(KNOWN, "seed", [HELD, TONE, OTHER])
    assert [(c.title, c.known_defect) for c in marked] == [
        ("calls reach an agent", False),
        ("tone instead of an agent", True),
        ("dead air under budget", False),
    ]
    # and nothing else about a check changes
    assert [(c.passed, c.expected, c.actual) for c in marked] == [
        (c.passed, c.expected, c.actual) for c in (HELD, TONE, OTHER)
    ]


@pytest.mark.parametrize(
    ("verdicts", "suite"),
    [
        ([], "pass"),
        (["pass", "expected_failure"], "pass"),
        (["pass", "inconclusive"], "inconclusive"),
        (["inconclusive", "unexpected_pass"], "fail"),
        (["fail", "pass"], "fail"),
        (["fail", "error", "inconclusive"], "error"),
    ],
)
def test_suite_verdict(verdicts: list[str], suite: str) -> None:
    assert suite_verdict(verdicts) == suite


def test_only_pass_and_expected_failure_are_ok() -> None:
    assert OK_VERDICTS == {"pass", "expected_failure"}
