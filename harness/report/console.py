"""Console rendering of calls: a timeline table a person can read at a glance."""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table

from harness.executor.timeline import CallResult

__all__ = ["make_console", "print_call"]


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
    table = Table(title=f"call {result.call_id} through {result.flow_id}", expand=False)
    for column in ("t (ms)", "flow / step", "type", "ms", "caller hears", "detail"):
        table.add_column(column)
    for seg in result.segments:
        hears = "audio" if seg.audio else ("keys" if seg.caller_input else "[red]silence[/]")
        if seg.duration_ms == 0 and not seg.audio:
            hears = ""
        table.add_row(
            f"{seg.start_ms:,.0f}",
            f"{seg.flow_id} / {seg.step_id}",
            seg.step_type,
            f"{seg.duration_ms:,.0f}",
            hears,
            _describe(seg.step_type, dict(seg.detail)),
        )
    console.print(table)
    console.print(
        f"outcome [bold]{result.outcome}[/] at {result.terminal_step}"
        + (f" ({result.reason})" if result.reason else "")
        + f" | duration {result.duration_ms:,.0f} ms"
        + f" | dead air {result.dead_air_ms:,.0f} ms"
        + f", longest silence {result.max_dead_air_ms:,.0f} ms"
    )
