"""Live progress for suite, chaos and load runs on the console.

On a terminal it is a rich progress bar (runs done / total, calls done, failures
so far), with each run that needs attention printed above the bar as it ends.
When stdout is not a terminal (CI logs, pipes) it falls back to one plain line
per finished run, because redrawn bars turn into noise in a log file. `NO_COLOR`
is honoured through :func:`harness.report.console.make_console`.

The runner calls back into it (`on_call`, `on_run`), so it plugs straight into
:func:`harness.scenario.runner.run_suite`::

    with Progress(len(pairs)) as progress:
        suite = await run_suite(..., on_call=progress.on_call, on_run=progress.on_run)
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich import progress as rp
from rich.console import Console
from rich.markup import escape

from harness.executor.timeline import CallResult
from harness.report.console import make_console
from harness.report.junit import failure_message
from harness.scenario.loadrun import LoadProgress
from harness.scenario.runner import RunResult

__all__ = ["LoadProgressLine", "Progress"]

_STYLE = {
    "pass": "green",
    "fail": "bold red",
    "expected_failure": "yellow",
    "unexpected_pass": "magenta",
    "inconclusive": "bold yellow",
    "error": "bold red",
}


class Progress:
    """Runs done / total, calls done and failures so far; a context manager."""

    def __init__(
        self, total_runs: int, *, console: Console | None = None, live: bool | None = None
    ) -> None:
        self.total_runs = total_runs
        self.runs_done = 0
        self.calls_done = 0
        self.failures = 0
        self.console = console or make_console()
        # Redrawing needs a real terminal; rich knows when it has one.
        self.live = self.console.is_terminal and not self.console.is_dumb_terminal
        if live is not None:
            self.live = live
        self._bar: rp.Progress | None = None
        self._task: rp.TaskID | None = None

    def __enter__(self) -> Progress:
        if self.live:
            self._bar = rp.Progress(
                rp.SpinnerColumn(),
                rp.TextColumn("[bold]runs"),
                rp.BarColumn(),
                rp.MofNCompleteColumn(),
                rp.TextColumn("calls {task.fields[calls]}"),
                rp.TextColumn("failures {task.fields[failures]}"),
                rp.TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("runs", total=self.total_runs, calls=0, failures=0)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
            self._bar = None
        if not self.live:
            self.console.print(
                f"{self.runs_done}/{self.total_runs} runs, {self.calls_done} calls, "
                f"{self.failures} failing",
                highlight=False,
            )

    def on_call(self, run: RunResult, call: CallResult) -> None:
        """One call of `run` ended."""
        self.calls_done += 1
        self._refresh(advance=0)

    def on_run(self, run: RunResult) -> None:
        """`run` ended with its verdict."""
        self.runs_done += 1
        if not run.ok:
            self.failures += 1
        if self.live and run.ok:
            self._refresh(advance=1)
            return
        self._print(run)
        self._refresh(advance=1)

    def _print(self, run: RunResult) -> None:
        style = _STYLE.get(run.verdict, "")
        width = len(str(self.total_runs))
        line = (
            f"\\[{self.runs_done:>{width}}/{self.total_runs}] {escape(run.id)} "
            f"[{style}]{run.verdict}[/] ({len(run.calls)} calls, {run.wall_ms / 1000:.2f} s)"
        )
        if run.verdict in ("fail", "unexpected_pass"):
            line += "\n    " + escape(failure_message(run))
        elif run.error:
            line += "\n    " + escape(run.error)
        self.console.print(line, highlight=False, markup=True, soft_wrap=True)

    def _refresh(self, advance: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task, advance=advance, calls=self.calls_done, failures=self.failures
            )


class LoadProgressLine:
    """A load run's progress on stderr (stdout may be carrying `--json`).

    On a terminal one status line redrawn every second; elsewhere a plain line
    every `every_s` seconds, so a CI log shows the run is alive without noise.
    """

    def __init__(self, *, console: Console | None = None, every_s: float = 10.0) -> None:
        self.console = console or make_console(stderr=True)
        self.live = self.console.is_terminal and not self.console.is_dumb_terminal
        self.every_s = every_s
        self._printed_at = 0.0
        self._status: Any = None

    def __enter__(self) -> LoadProgressLine:
        if self.live:
            self._status = self.console.status("load: starting")
            self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(None, None, None)
            self._status = None

    def update(self, p: LoadProgress) -> None:
        line = (
            f"load {p.elapsed_s:,.0f} s: {p.arrived:,}/{p.arrivals:,} callers arrived, "
            f"{p.ended:,} ended ({p.dropped:,} dropped), {p.busy_slots:,} in a slot, "
            f"{p.queued:,} queued"
        )
        if self._status is not None:
            self._status.update(escape(line))
        elif p.elapsed_s - self._printed_at >= self.every_s:
            self._printed_at = p.elapsed_s
            self.console.print(line, highlight=False, markup=False)
