"""What the gate leaves behind: ``reports/<run-id>/`` files and a ten-second console summary.

``results.json`` (schema version 1, documented in docs/contracts.md)::

    {"version": 1, "run_id": ..., "started_at": ..., "duration_s": ...,
     "verdict": "passed|failed|error", "exit_code": 0|1|2,
     "parts": [{"name", "status", "summary", "problems": [...], "details": {...}}]}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.contract.gate import GateResult
from harness.report.console import make_console
from harness.report.files import append_step_summary, atomic_write
from harness.report.gate_junit import gate_junit
from harness.report.sarif import format_sarif

__all__ = ["print_summary", "render_markdown", "results_json", "write_reports"]

_STYLE = {"passed": "green", "failed": "bold red", "error": "bold magenta", "skipped": "dim"}
_PER_PART = 3


def results_json(result: GateResult) -> dict[str, Any]:
    return {
        "version": 1,
        "run_id": result.run_id,
        "started_at": result.started_at,
        "duration_s": round(result.duration_s, 3),
        "verdict": result.verdict,
        "exit_code": result.exit_code,
        "parts": [
            {
                "name": p.name,
                "status": p.status,
                "summary": p.summary,
                "problems": list(p.problems),
                "details": p.details,
            }
            for p in result.parts
        ],
        "complete": not result.incomplete,
        "incomplete_reason": result.incomplete,
    }


def write_reports(result: GateResult, report_dir: Path) -> Path:
    """Write lint.sarif, junit.xml and results.json under ``report_dir/<run-id>/``."""
    out = report_dir / result.run_id
    documents = {
        "lint.sarif": format_sarif(result.lint_findings, Path.cwd(), _suppressed_lint(result))
        + "\n",
        "junit.xml": gate_junit(result),
        "results.json": json.dumps(results_json(result), indent=2, default=str) + "\n",
    }
    for name, text in documents.items():
        atomic_write(out / name, text)
    append_step_summary(render_markdown(result, out))
    return out


def _suppressed_lint(result: GateResult) -> list[tuple[Any, str]]:
    return [(s.finding, s.by.reason) for s in result.suppressed if hasattr(s.finding, "rule_id")]


def render_markdown(result: GateResult, out: Path) -> str:
    """The gate's verdict and parts as Markdown, for `$GITHUB_STEP_SUMMARY`."""
    lines = [
        f"## ivr-harness gate: {result.verdict.upper()}",
        "",
        "| part | status | summary |",
        "|---|---|---|",
    ]
    lines += [f"| {p.name} | {p.status} | {p.summary} |" for p in result.parts]
    lines += ["", f"Reports: `{out}`", ""]
    return "\n".join(lines)


def print_summary(result: GateResult, out: Path | None, console: Console | None = None) -> None:
    """Verdict, one row per part, the first problems, and where the reports are."""
    console = console or make_console()
    style = _STYLE[result.verdict]
    console.print(
        f"[{style}]GATE {result.verdict.upper()}[/] (exit {result.exit_code}) "
        f"run {result.run_id} in {result.duration_s:.1f}s"
    )
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("part")
    table.add_column("status")
    table.add_column("summary", overflow="fold")
    for part in result.parts:
        table.add_row(part.name, f"[{_STYLE[part.status]}]{part.status}[/]", part.summary)
    console.print(table)
    for part in result.parts:  # a few per part, so no part's news drowns another's
        for line in part.problems[:_PER_PART]:
            console.print(f"  [bold]{escape(part.name)}[/]: {escape(line)}", soft_wrap=True)
        if len(part.problems) > _PER_PART:
            more = len(part.problems) - _PER_PART
            console.print(f"  {escape(part.name)}: ... and {more} more (see results.json)")
    if out is not None:
        console.print(f"reports: {out}")
