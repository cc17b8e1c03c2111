"""Write a suite's reports to `reports/<run-id>/`, atomically.

Every document is rendered in memory first, so a rendering bug leaves nothing
behind; each file is then written to a temporary name in the same folder and
renamed into place, so a reader (a CI artifact upload, a person refreshing the
HTML) never sees a half-written file. The Markdown summary is appended to
`$GITHUB_STEP_SUMMARY` when that variable is set, as GitHub Actions expects.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from harness.flow.profile import CXONE, PlatformProfile
from harness.report.html import render_html
from harness.report.junit import render_junit
from harness.report.markdown import render_markdown
from harness.report.results import to_results
from harness.scenario.runner import SuiteResult

__all__ = ["ReportPaths", "render_events", "write_reports"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportPaths:
    """Where one suite's reports went."""

    directory: Path
    events: Path
    results: Path
    junit: Path
    html: Path
    step_summary: Path | None = None


def render_events(suite: SuiteResult) -> str:
    """events.jsonl: every run's events, one JSON object a line, each with its `run` id."""
    lines = []
    for run in suite.runs:
        for event in run.events:
            record = {"run": run.id, **dataclasses.asdict(event)}
            lines.append(json.dumps(record, sort_keys=True, default=str))
    return "".join(line + "\n" for line in lines)


def _atomic_write(path: Path, text: str) -> None:
    # Not tempfile.mkstemp: its 0600 mode would make reports unreadable to a web server
    # or a CI artifact step running as another user; "x" mode honours the umask.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _append_step_summary(markdown: str) -> Path | None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return path


def write_reports(
    suite: SuiteResult, report_dir: Path, profile: PlatformProfile = CXONE
) -> ReportPaths:
    """Write events.jsonl, results.json, junit.xml and report.html under report_dir/<run-id>/."""
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
        paths.results: to_results(suite, profile),
        paths.junit: render_junit(suite),
        paths.html: render_html(suite, profile),
    }
    markdown = render_markdown(suite, report_path=str(paths.html))
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in documents.items():
        _atomic_write(path, text)
    return dataclasses.replace(paths, step_summary=_append_step_summary(markdown))
