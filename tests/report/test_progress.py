"""The live progress view: plain lines off a terminal, a bar on one, NO_COLOR honoured."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from harness.report.console import make_console
from harness.report.progress import Progress
from harness.scenario.runner import SuiteResult


def _drive(progress: Progress, suite: SuiteResult) -> None:
    with progress:
        for run in suite.runs:
            for call in run.calls:
                progress.on_call(run, call)
            progress.on_run(run)


def test_plain_lines_when_not_a_terminal(fake_suite: SuiteResult) -> None:
    out = io.StringIO()
    progress = Progress(len(fake_suite.runs), console=Console(file=out, width=200))
    _drive(progress, fake_suite)
    lines = out.getvalue().splitlines()
    assert not progress.live
    assert lines[0] == "[1/5] storm[hardened] fail (2 calls, 1.23 s)"
    assert "expected transfer:agent-queue, got call-1" in lines[1]
    assert "\x1b[" not in out.getvalue()
    assert lines[-1] == "5/5 runs, 5 calls, 3 failing"
    assert (progress.runs_done, progress.calls_done, progress.failures) == (5, 5, 3)


def test_live_bar_on_a_terminal(fake_suite: SuiteResult) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    _drive(Progress(len(fake_suite.runs), console=console), fake_suite)
    text = out.getvalue()
    assert "5/5" in text and "calls 5" in text and "failures 3" in text
    assert "fine[hardened]" not in text  # passing runs only move the bar


def test_no_color(fake_suite: SuiteResult, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    console = make_console()
    out = io.StringIO()
    console.file = out
    _drive(Progress(len(fake_suite.runs), console=console, live=False), fake_suite)
    assert "fail" in out.getvalue() and "\x1b[" not in out.getvalue()


def test_console_tables_never_cut_a_name_into_ambiguity(fake_suite: SuiteResult) -> None:
    import dataclasses
    import io

    from rich.console import Console

    from harness.report.console import print_suite

    long = "battery-clinic-booking-http-book-202-callback-with-a-long-tail"
    runs = [
        dataclasses.replace(r, scenario=dataclasses.replace(r.scenario, name=f"{long}-{i}"))
        for i, r in enumerate(fake_suite.runs)
    ]
    out = io.StringIO()
    print_suite(dataclasses.replace(fake_suite, runs=runs), Console(file=out, width=60))
    text = out.getvalue()
    assert "…" not in text  # folded onto more lines, never ellipsised
    names: list[str] = []
    for line in text.splitlines():
        cells = line.split("│")
        if len(cells) < 3:
            continue
        if cells[4].strip():  # a row's first line: its short cells are filled
            names.append("")
        names[-1] += cells[1].strip()
    assert sorted(names) == sorted(r.scenario.name for r in runs)
