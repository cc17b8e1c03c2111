"""What `ivr-harness mutate` leaves behind: results.json, junit.xml, report.html, a summary.

results.json has the schema `ivr-harness/mutation/v1`: the score, its breakdown per
flow and per trap, the original's run (what it already fails: those checks kill no
mutant), and every mutant with its change, status, killers, the scenarios covering it
and the runs made, and, for a survivor, the scenario that would kill it. In JUnit a
mutant is a testcase: killed and timeout pass, survived fails (the suite missed a
breakage), inconclusive (the machine was too loaded to judge it), invalid and
equivalent are skipped; a first testcase, `original`, fails when the original flow set
already fails a scenario.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape as esc
from rich.table import Table

from harness.report.console import make_console
from harness.report.files import append_step_summary, atomic_write
from harness.report.junit import Case, Suite, render_junit
from harness.scenario.mutation import MutantResult, MutationReport
from harness.scenario.original import Original

__all__ = [
    "SCHEMA_ID",
    "MutantProgress",
    "print_mutation",
    "print_original",
    "write_mutation_reports",
]

SCHEMA_ID = "ivr-harness/mutation/v1"
ALREADY = "the original already fails this"


def _case(result: MutantResult) -> Case:
    mutant = result.mutant
    common: dict[str, Any] = {"name": mutant.id, "classname": f"mutate.{mutant.flow_id}"}
    if result.status in ("killed", "timeout"):
        return Case(**common, output=f"{result.status} by " + "; ".join(result.killed_by))
    if result.status == "invalid":
        return Case(**common, skipped=f"invalid mutant: {result.error}")
    if result.status == "inconclusive":
        return Case(**common, skipped=_unclear(result))
    if result.status == "equivalent":
        return Case(**common, skipped=f"equivalent: diff finds no change ({mutant.change()})")
    return Case(
        **common,
        failure=f"survived: {mutant.change()}\nwould be killed by: {result.suggestion}",
        failure_type="SurvivingMutant",
    )


def _original_case(report: MutationReport) -> list[Case]:
    original = report.original
    if original is None:
        return []
    common: dict[str, Any] = {"name": "original", "classname": f"mutate.{report.flow_set}"}
    if not original.red():
        return [Case(**common, output=f"{len(original.runs)} scenarios on the original")]
    lines = [f"{scenario}: {check or '(run)'}: {why}" for scenario, check, why in _listed(original)]
    return [
        Case(
            **common,
            failure=f"{ALREADY} (kills no mutant):\n" + "\n".join(lines),
            failure_type="OriginalFails",
        )
    ]


def _listed(original: Original) -> list[tuple[str, str, str]]:
    return sorted(original.already_failing())


def _unclear(result: MutantResult) -> str:
    checks = "; ".join(result.inconclusive)
    return f"inconclusive, the machine was overloaded (rerun it): {checks}"


def _html(report: MutationReport) -> str:
    rows = "".join(
        f"<tr class='{r.status}'><td>{escape(r.mutant.id)}</td><td>{escape(r.status)}</td>"
        f"<td><code>{escape(r.mutant.change())}</code></td>"
        f"<td>{escape('; '.join(r.killed_by or r.inconclusive) or r.suggestion or r.error)}</td>"
        f"<td>{r.runs}/{r.covering}{' (reused)' if r.reused else ''}</td></tr>"
        for r in report.results
    )
    traps = "".join(
        f"<tr><td>{escape(t)}</td><td>{s:.0%}</td></tr>"
        for t, s in report.by(lambda r: r.mutant.trap).items()
    )
    already = ""
    if report.original is not None and report.original.already_failing():
        items = "".join(
            f"<li><b>{escape(s)}</b>: {escape(c or '(the run)')} ({escape(w)})</li>"
            for s, c, w in _listed(report.original)
        )
        already = f"<h2 class='already'>{ALREADY}: these kill no mutant</h2><ul>{items}</ul>"
    style = (
        "body{font:14px system-ui,sans-serif;margin:24px}table{border-collapse:collapse}"
        "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}"
        ".survived td{background:#fdecea}.inconclusive td{background:#fff8e1}"
        ".timeout td{background:#e8f0fe}.invalid td{color:#777}h2.already{color:#b00020}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>mutation score</title>"
        f"<style>{style}</style></head><body><h1>Mutation score {report.score():.0%}</h1>"
        f"<p>{escape(report.flow_set)}: {len(report.results)} mutants, {report.scenarios} "
        f"scenarios, {report.total_ms / 1000:.0f} s ({escape(_times(report))})</p>{already}"
        "<h2>Per trap</h2>"
        f"<table>{traps}</table><h2>Mutants</h2><table><tr><th>mutant</th><th>status</th>"
        f"<th>change</th><th>killed by / would be killed by</th><th>runs / covering</th>"
        f"</tr>{rows}</table></body></html>\n"
    )


def write_mutation_reports(report: MutationReport, report_dir: Path, run_id: str) -> Path:
    """results.json, junit.xml and report.html under report_dir/run_id/."""
    out = report_dir / run_id
    document = {"schema": SCHEMA_ID, "run_id": run_id, **report.to_json()}
    cases = _original_case(report) + [_case(r) for r in report.results]
    if report.incomplete:  # an interrupted run is an error, with what finished beside it
        cases.append(Case(name="mutate", classname="mutate.interrupted", error=report.incomplete))
    suite = Suite(name=f"mutate {report.flow_set}", cases=cases)
    atomic_write(out / "results.json", json.dumps(document, indent=2) + "\n")
    atomic_write(out / "junit.xml", render_junit([suite], time_s=report.total_ms / 1000))
    atomic_write(out / "report.html", _html(report))
    survivors = [r for r in report.results if r.status == "survived"]
    unclear = [r for r in report.results if r.status == "inconclusive"]
    already = _listed(report.original) if report.original is not None else []
    append_step_summary(
        f"## ivr-harness mutate: score {report.score():.0%}\n\n"
        + "".join(
            f"- {ALREADY} (kills no mutant): {s}: {c or '(run)'}: {w}\n" for s, c, w in already
        )
        + "".join(f"- survived `{r.mutant.change()}`: add {r.suggestion}\n" for r in survivors)
        + "".join(f"- inconclusive `{r.mutant.change()}`: {_unclear(r)}\n" for r in unclear)
    )
    return out


def print_original(original: Original, console: Console | None = None) -> None:
    """Every check the original already fails, loudly: none of them kills a mutant."""
    console = console or make_console()
    for scenario, check, why in _listed(original):
        console.print(
            f"[bold red]{ALREADY.upper()}[/] (kills no mutant): {esc(scenario)}: "
            f"{esc(check or '(the run)')}: {esc(why)}",
            soft_wrap=True,
        )


def print_mutation(report: MutationReport, console: Console | None = None) -> None:
    """The original's failures, the score, the score per trap, every timeout, survivor
    (with the scenario to add) and inconclusive mutant."""
    console = console or make_console()
    if report.original is not None:
        print_original(report.original, console)
    counts = report.to_json()["counts"]
    runs = report.to_json()["runs"]
    reused = sum(r.reused for r in report.results)
    console.print(
        f"mutation score [bold]{report.score():.0%}[/] on {esc(report.flow_set)}: "
        f"{counts['killed']} killed, {counts['timeout']} timeout, {counts['survived']} survived, "
        f"{counts['inconclusive']} inconclusive, {counts['invalid']} invalid, "
        f"{counts['equivalent']} equivalent (the last three excluded) "
        f"in {report.total_ms / 1000:.0f} s ({_times(report)}), {runs} mutant runs"
        + (f", {reused} verdicts reused" if reused else "")
    )
    table = Table(box=None, show_header=True, header_style="bold")
    for column in ("trap", "score"):
        table.add_column(column, overflow="fold")  # never cut a name into ambiguity
    for trap, score in report.by(lambda r: r.mutant.trap).items():
        table.add_row(esc(trap), f"{score:.0%}")
    console.print(table)
    for result in report.results:
        if result.status == "timeout":
            console.print(f"  TIMEOUT {esc(result.mutant.change())}")
            console.print(f"           {esc(result.killed_by[0])}")
        elif result.status == "survived":
            console.print(f"  SURVIVED {esc(result.mutant.change())}")
            console.print(f"           add: {esc(result.suggestion)}")
        elif result.status == "inconclusive":
            console.print(f"  INCONCLUSIVE {esc(result.mutant.change())}")
            console.print(f"           {esc(_unclear(result))}")


def _times(report: MutationReport) -> str:
    original = report.original
    mutants = f"the mutants {report.wall_ms / 1000:.0f} s"
    if original is None:
        return mutants
    if original.reused:
        return f"the original's run reused, {mutants}"
    return f"the original {original.wall_ms / 1000:.0f} s, {mutants}"


class MutantProgress:
    """One line per mutant as it is judged: mutants done / total, its status and why
    (a mutant finishes in seconds, so a line each reads well in a terminal and a log)."""

    def __init__(self, total: int, *, console: Console | None = None) -> None:
        self.total = total
        self.done = 0
        self.console = console or make_console()

    def on_mutant(self, result: MutantResult) -> None:
        """`result` is judged (an inconclusive one may be judged again after its rerun)."""
        self.done = min(self.done + 1, self.total)
        how = "; ".join(result.killed_by[:1] or result.inconclusive[:1]) or result.suggestion
        runs = "reused" if result.reused else f"{result.runs} of {result.covering} runs"
        self.console.print(
            f"\\[{self.done:>{len(str(self.total))}}/{self.total}] {esc(result.mutant.id)} "
            f"{result.status} ({runs}) {esc(how)}",
            highlight=False,
            soft_wrap=True,
        )
