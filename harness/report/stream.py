"""Reports that survive an interrupted suite: written as runs finish, not only at the end.

Before the first run, the report folder is created and a `results.json` marked
incomplete is written, so an unusable `--report-dir` stops the suite at once (exit 2)
instead of after an hour of runs. Each finished run appends its events to
`events.jsonl` and rewrites `results.json` (atomically) with every run so far, still
marked incomplete. The end of the suite, or its interruption, writes every report
for what finished: `complete: true`, or `complete: false` with the reason.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness.errors import ConfigError
from harness.flow.profile import CXONE, PlatformProfile
from harness.report.files import atomic_write
from harness.report.results import to_results
from harness.report.writer import ReportPaths, render_run_events, write_reports
from harness.scenario.runner import RunResult, SuiteResult

__all__ = ["ReportStream", "check_report_dir"]


def check_report_dir(report_dir: Path, run_id: str) -> Path:
    """Create `report_dir/run_id/` or say, as a ConfigError, why it cannot be used."""
    directory = report_dir / run_id
    if report_dir.exists() and not report_dir.is_dir():
        raise ConfigError("is a file, not a folder", file=report_dir, hint="choose --report-dir")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ConfigError("lies under a file", file=report_dir, hint="choose --report-dir") from exc
    except OSError as exc:
        raise ConfigError(
            f"cannot create the report folder: {exc.strerror}", file=directory
        ) from exc
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError("the report folder is not writable", file=directory)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and Path(summary).is_dir():
        raise ConfigError("is a folder, not a file", file=f"$GITHUB_STEP_SUMMARY ({summary})")
    return directory


@dataclass(kw_only=True)
class ReportStream:
    """A suite's reports, kept current run by run (pass `on_run` to `run_suite`)."""

    report_dir: Path
    run_id: str
    toxiproxy: str
    profile: PlatformProfile = CXONE
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    runs: list[RunResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the battery's steps it could not test
    _t0: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.directory = check_report_dir(self.report_dir, self.run_id)
        atomic_write(self.directory / "events.jsonl", "")
        self._write_results("running")

    def on_run(self, run: RunResult) -> None:
        """Keep a finished run: its events appended, results.json rewritten."""
        self.runs.append(run)
        with (self.directory / "events.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(render_run_events(run))
        self._write_results("running")

    def finish(self, suite: SuiteResult) -> ReportPaths:
        """Every report for the whole suite."""
        suite.notes[:0] = self.notes
        return write_reports(suite, self.report_dir, self.profile)

    def abort(self, reason: str) -> ReportPaths:
        """Every report for the runs that finished, marked incomplete with `reason`."""
        return write_reports(self._partial(reason), self.report_dir, self.profile)

    def _partial(self, reason: str) -> SuiteResult:
        return SuiteResult(
            run_id=self.run_id,
            started_at=self.started_at,
            runs=list(self.runs),
            wall_ms=(time.monotonic() - self._t0) * 1000,
            toxiproxy=self.toxiproxy,
            incomplete=reason,
            notes=list(self.notes),
        )

    def _write_results(self, reason: str) -> None:
        atomic_write(self.directory / "results.json", to_results(self._partial(reason)))
