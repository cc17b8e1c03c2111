"""A short Markdown summary of a suite, for `$GITHUB_STEP_SUMMARY`.

GitHub renders it on the workflow run page: the verdict, a table of runs and,
for each run that needs attention, what was expected and what happened. It
stays short (GitHub caps a step summary at 1 MiB); the HTML report has the rest.
"""

from __future__ import annotations

from harness.report.junit import failure_message
from harness.scenario.runner import RunResult, SuiteResult

__all__ = ["render_markdown"]

_ICONS = {
    "pass": "✅",
    "fail": "❌",
    "expected_failure": "🟠",
    "unexpected_pass": "🟣",
    "inconclusive": "⚠️",
    "error": "💥",
}
_MAX_FAILURES = 10


def _cell(text: str) -> str:
    # A pipe or a newline would break the table row.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _verdict(verdict: str) -> str:
    return f"{_ICONS.get(verdict, '')} {verdict}".strip()


def _row(run: RunResult) -> str:
    failed = len(run.failures())
    return (
        f"| {_cell(run.scenario.name)} | {_cell(run.flow_set)} | {_verdict(run.verdict)} "
        f"| {len(run.checks) - failed}/{len(run.checks)} | {len(run.calls)} "
        f"| {run.wall_ms / 1000:.2f} s |"
    )


def _failure(run: RunResult) -> list[str]:
    lines = [f"**{_cell(run.id)}** — {_verdict(run.verdict)}"]
    if run.verdict == "error":
        lines.append(f"- harness error: `{_cell(run.error)}`")
    elif run.verdict == "unexpected_pass":
        lines.append(f"- {_cell(failure_message(run))}")
    else:
        new = [c for c in run.failures() if not c.known_defect]
        for check in new[:_MAX_FAILURES]:
            lines.append(
                f"- {_cell(check.title)}: expected `{_cell(check.expected)}`, "
                f"got `{_cell(check.actual)}`"
            )
        if len(new) > _MAX_FAILURES:
            lines.append(f"- … and {len(new) - _MAX_FAILURES} more (see report.html)")
    return [*lines, ""]


def render_markdown(suite: SuiteResult, report_path: str | None = None) -> str:
    """The summary as Markdown; `report_path` (where report.html lives) is named when given."""
    counts = {v: sum(1 for r in suite.runs if r.verdict == v) for v in _ICONS}
    tally = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    lines = [
        f"## ivr-harness suite: {_verdict(suite.verdict)}",
        "",
        f"Run `{suite.run_id}` · {len(suite.runs)} runs ({tally}) · {suite.wall_ms / 1000:.1f} s",
        "",
        *(
            [f"**Incomplete:** {_cell(suite.incomplete)}; only finished runs are listed.", ""]
            if suite.incomplete
            else []
        ),
        "| scenario | flow set | verdict | checks passed | calls | wall time |",
        "|---|---|---|---:|---:|---:|",
        *(_row(r) for r in suite.runs),
        "",
    ]
    attention = [r for r in suite.runs if not r.ok]
    if attention:
        lines += ["### Needs attention", ""]
        for run in attention:
            lines += _failure(run)
    if report_path:
        lines += [f"Full report: `{report_path}`", ""]
    return "\n".join(lines)
