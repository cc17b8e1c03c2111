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
from harness.report.files import atomic_write, unwritable
from harness.report.results import Shard, to_results
from harness.report.writer import ReportPaths, render_run_events, write_reports
from harness.scenario.runner import RunResult, SuiteResult

__all__ = ["ReportStream", "check_new_run_folder", "check_report_dir"]


def check_new_run_folder(report_dir: Path, run_id: str) -> Path:
    """``report_dir/run_id``, unless something is in the way (a ConfigError); creates nothing.

    The run's folder must be new: a run id given twice (`--run-id`) would silently
    overwrite the earlier run's reports.
    """
    directory = report_dir / run_id
    if report_dir.exists() and not report_dir.is_dir():
        raise ConfigError("is a file, not a folder", file=report_dir, hint="choose --report-dir")
    if directory.is_symlink() or (directory.exists() and not directory.is_dir()):
        raise ConfigError(
            "the run's report folder is a file or a symlink",
            file=directory,
            hint="choose another --run-id or --report-dir",
        )
    if directory.is_dir() and any(directory.iterdir()):
        raise ConfigError(
            "already holds the reports of an earlier run",
            file=directory,
            hint="choose another --run-id, or remove the folder",
        )
    return directory


def check_report_dir(report_dir: Path, run_id: str) -> Path:
    """Create `report_dir/run_id/` or say, as a ConfigError, why it cannot be used."""
    directory = check_new_run_folder(report_dir, run_id)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ConfigError(
            "lies under a file or a dangling symlink", file=report_dir, hint="choose --report-dir"
        ) from exc
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
    shard: Shard | None = None
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
        events = self.directory / "events.jsonl"
        try:
            with events.open("a", encoding="utf-8") as fh:
                fh.write(render_run_events(run))
        except OSError as exc:
            raise unwritable(events, exc) from None
        self._write_results("running")

    def finish(self, suite: SuiteResult) -> ReportPaths:
        """Every report for the whole suite."""
        suite.notes[:0] = self.notes
        return write_reports(suite, self.report_dir, self.profile, self.shard)

    def abort(self, reason: str) -> ReportPaths:
        """Every report for the runs that finished, marked incomplete with `reason`."""
        return write_reports(self._partial(reason), self.report_dir, self.profile, self.shard)

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
        text = to_results(self._partial(reason), self.profile, self.shard)
        atomic_write(self.directory / "results.json", text)
