"""Write a suite's reports to `reports/<run-id>/`, atomically.

Every document is rendered in memory first, so a rendering bug leaves nothing
behind; each is then written atomically (:mod:`harness.report.files`). The
Markdown summary is appended to `$GITHUB_STEP_SUMMARY` when that variable is set.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from harness.flow.profile import CXONE, PlatformProfile
from harness.report.files import append_step_summary, atomic_write
from harness.report.html import render_html
from harness.report.junit import suite_junit
from harness.report.markdown import render_markdown
from harness.report.results import Shard, to_results
from harness.scenario.runner import RunResult, SuiteResult

__all__ = ["ReportPaths", "render_events", "render_run_events", "write_reports"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportPaths:
    """Where one suite's reports went."""

    directory: Path
    events: Path
    results: Path
    junit: Path
    html: Path
    step_summary: Path | None = None


def render_run_events(run: RunResult) -> str:
    """One run's events as JSON Lines, each with its `run` id."""
    lines = []
    for event in run.events:
        record = {"run": run.id, **dataclasses.asdict(event)}
        lines.append(json.dumps(record, sort_keys=True, default=str) + "\n")
    return "".join(lines)


def render_events(suite: SuiteResult) -> str:
    """events.jsonl: every run's events, one JSON object a line, each with its `run` id."""
    return "".join(render_run_events(run) for run in suite.runs)


def write_reports(
    suite: SuiteResult,
    report_dir: Path,
    profile: PlatformProfile = CXONE,
    shard: Shard | None = None,
) -> ReportPaths:
    """Write events.jsonl, results.json, junit.xml and report.html under report_dir/<run-id>/.

    ``shard`` says which share of which suite this was (results.json's ``shard``).
    """
    directory = report_dir / suite.run_id
    paths = ReportPaths(
        directory=directory,
        events=directory / "events.jsonl",
        results=directory / "results.json",
        junit=directory / "junit.xml",
        html=directory / "report.html",
    )
    documents = {
        paths.events: render_events(suite),
        paths.results: to_results(suite, profile, shard),
        paths.junit: suite_junit(suite),
        paths.html: render_html(suite, profile),
    }
    markdown = render_markdown(suite, report_path=str(paths.html))
    for path, text in documents.items():
        atomic_write(path, text)
    return dataclasses.replace(paths, step_summary=append_step_summary(markdown))
