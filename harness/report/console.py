"""Console rendering of calls: a timeline table a person can read at a glance."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape as esc
from rich.table import Table

from harness.events import Event
from harness.executor.timeline import CallResult

if TYPE_CHECKING:
    from harness.scenario.runner import RunResult, SuiteResult

__all__ = ["make_console", "print_call", "print_calls", "print_checks", "print_suite"]


def make_console(stderr: bool = False) -> Console:
    """A rich console that honours NO_COLOR."""
    return Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)


def _describe(segment_type: str, detail: dict[str, object]) -> str:
    if segment_type == "HTTPRequest":
        text = (
            f"{detail.get('outcome')} status={detail.get('status')}"
            f" attempts={detail.get('attempts')}"
        )
        if detail.get("inline_token_fetch"):
            text += " inline-token-fetch"
        if detail.get("error_code"):
            text += f" ({detail.get('error_code')})"
        return text
    if segment_type == "Condition":
        return f"branch {detail.get('branch')} -> {detail.get('next')}"
    if segment_type == "Play":
        return str(detail.get("prompt", ""))
    if segment_type == "SubFlow":
        flag = " subflow_error" if detail.get("subflow_error") else ""
        return f"{detail.get('child')} ended {detail.get('child_end', detail.get('ended'))}{flag}"
    if "error" in detail:
        return f"error: {detail['error']}"
    return ", ".join(f"{k}={v}" for k, v in detail.items() if k != "next")


def print_call(result: CallResult, console: Console | None = None) -> None:
    """The call's timeline, then how it ended and how much dead air the caller heard."""
    console = console or make_console()
    table = Table(title=esc(f"call {result.call_id} through {result.flow_id}"), expand=False)
    for column in ("t (ms)", "flow / step", "type", "ms", "caller hears", "detail"):
        table.add_column(column, overflow="fold")  # never cut a name into ambiguity
    for seg in result.segments:
        hears = "audio" if seg.audio else ("keys" if seg.caller_input else "[red]silence[/]")
        if seg.duration_ms == 0 and not seg.audio:
            hears = ""
        table.add_row(
            f"{seg.start_ms:,.0f}",
            esc(f"{seg.flow_id} / {seg.step_id}"),
            seg.step_type,
            f"{seg.duration_ms:,.0f}",
            hears,
            esc(_describe(seg.step_type, dict(seg.detail))),
        )
    console.print(table)
    console.print(
        f"outcome [bold]{esc(result.outcome)}[/] at {esc(result.terminal_step)}"
        + (f" ({esc(result.reason)})" if result.reason else "")
        + f" | duration {result.duration_ms:,.0f} ms"
        + f" | dead air {result.dead_air_ms:,.0f} ms"
        + f", longest silence {result.max_dead_air_ms:,.0f} ms"
    )


_VERDICT_STYLE = {
    "pass": "[green]pass[/]",
    "expected_failure": "[yellow]expected findings[/]",
    "fail": "[red]FAIL[/]",
    "unexpected_pass": "[red]DEFECT NOT DETECTED[/]",
    "inconclusive": "[bold yellow]INCONCLUSIVE (machine overloaded)[/]",
    "error": "[red]ERROR[/]",
}


def print_suite(suite: SuiteResult, console: Console | None = None) -> None:
    """One line per run, then what failed and which known defects were found."""
    console = console or make_console()
    table = Table(title=f"run {suite.run_id}", expand=False)
    for column in ("scenario", "flows", "verdict", "checks", "calls", "wall (ms)"):
        table.add_column(column, overflow="fold")  # never cut a name into ambiguity
    for run in sorted(suite.runs, key=lambda r: (r.flow_set, r.scenario.name)):
        failed = len(run.failures())
        table.add_row(
            run.scenario.name,
            run.flow_set,
            _VERDICT_STYLE.get(run.verdict, run.verdict),
            f"{len(run.checks) - failed}/{len(run.checks)}",
            str(len(run.calls)),
            f"{run.wall_ms:,.0f}",
        )
    console.print(table)
    for run in suite.runs:
        if run.verdict == "error":
            console.print(f"[red]ERROR[/] {esc(run.id)}: {esc(run.error)}")
        for check in run.failures():
            if check.known_defect and run.verdict == "expected_failure":
                continue
            mark = "[bold yellow]INCONCLUSIVE[/]" if check.inconclusive else "[red]FAIL[/]"
            console.print(f"{mark} {esc(run.id)}: {esc(check.title)}")
            console.print(f"     expected {esc(check.expected)}; got {esc(check.actual)}")
        if run.verdict == "unexpected_pass":
            missing = sorted(
                set(run.scenario.known_defects.get(run.flow_set, ()))
                - {c.title for c in run.failures()}
            )
            console.print(f"[red]DEFECT NOT DETECTED[/] {esc(run.id)}: {esc(', '.join(missing))}")
    findings = [
        (run, c) for run in suite.runs if run.verdict == "expected_failure" for c in run.failures()
    ]
    if findings:
        console.print(f"\n[yellow]expected findings[/] ({len(findings)} known defects caught):")
        for run, check in findings:
            console.print(
                f"  {esc(run.flow_set)}: {esc(check.title)}  [dim]({esc(run.scenario.name)})[/]"
            )


def print_calls(run: RunResult, console: Console | None = None) -> None:
    """The chaos view: one row per call with attempts, waits, breaker, branches, dead air."""
    console = console or make_console()
    table = Table(title=esc(f"{run.id}: {run.verdict}"), expand=False)
    for column in ("call", "outcome", "integration steps", "breaker", "branches", "dead air"):
        table.add_column(column, overflow="fold")  # never cut a name into ambiguity
    for call in run.calls:
        events = [e for e in run.events if e.call_id == call.call_id]
        table.add_row(
            esc(call.call_id),
            esc(call.outcome),
            esc(_http_summary(call, events)),
            esc(_breaker_summary(events)),
            esc(
                " > ".join(
                    f"{s.step_id}:{s.detail.get('branch')}"
                    for s in call.segments
                    if s.step_type == "Condition"
                )
            ),
            f"{call.dead_air_ms:,.0f} ms (max {call.max_dead_air_ms:,.0f})",
        )
    console.print(table)


def _http_summary(call: CallResult, events: list[Event]) -> str:
    parts = []
    for seg in call.segments:
        if seg.step_type != "HTTPRequest":
            continue
        waits = [
            e.data.get("wait_ms", 0)
            for e in events
            if e.kind == "backoff"
            and e.step_id == seg.step_id
            and seg.start_ms <= e.t_ms <= seg.end_ms
        ]
        text = (
            f"{seg.step_id}: {seg.detail.get('outcome')} x{seg.detail.get('attempts')}"
            f" {seg.duration_ms:,.0f} ms"
        )
        if waits:
            text += " waits " + "+".join(f"{w:.0f}" for w in waits)
        parts.append(text)
    return "\n".join(parts)


def _breaker_summary(events: list[Event]) -> str:
    moves = [
        f"{e.data.get('key')}:{e.data.get('old')}->{e.data.get('new')}"
        for e in events
        if e.kind == "breaker"
    ]
    skipped = sum(1 for e in events if e.kind == "circuit_open")
    if skipped:
        moves.append(f"skipped x{skipped}")
    return ", ".join(moves)


def print_checks(run: RunResult, console: Console) -> None:
    """Each expectation: held, or FAILED with what happened."""
    for check in run.checks:
        mark = "[green]held[/]" if check.passed else "[red]FAILED[/]"
        why = "" if check.passed else f": {esc(check.actual)}"
        console.print(f"{mark} {esc(check.title)}{why}")
    if run.error:
        console.print(f"[red]error[/] {esc(run.error)}")
