"""The $GITHUB_STEP_SUMMARY Markdown: verdict, a table of runs, and what failed."""

from __future__ import annotations

from harness.report.markdown import render_markdown
from harness.scenario.runner import SuiteResult


def test_verdict_table_and_failures(fake_suite: SuiteResult) -> None:
    text = render_markdown(fake_suite, report_path="reports/x/report.html")
    lines = text.splitlines()
    assert lines[0] == "## ivr-harness suite: 💥 error"
    rows = [line for line in lines if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(fake_suite.runs)
    assert "### Needs attention" in text
    assert "expected `transfer:agent-queue`, got `call-1: ended in dead_end at confirm`" in text
    assert "known defect no longer detected: every call ends in transfer:agent-queue" in text
    assert "harness error: `cannot reach toxiproxy" in text
    assert "reports/x/report.html" in text


def test_pipes_cannot_break_the_table(fake_suite: SuiteResult) -> None:
    text = render_markdown(fake_suite)
    failure_lines = [line for line in text.splitlines() if "no dead end" in line]
    assert failure_lines and all("\\|" in line for line in failure_lines)


def test_real_suite_summary(happy_suite: SuiteResult) -> None:
    text = render_markdown(happy_suite)
    assert "| happy-path | hardened | ✅ pass |" in text
    assert "storm" not in text
