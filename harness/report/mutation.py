"""What `ivr-harness mutate` leaves behind: results.json, junit.xml, report.html, a summary.

results.json has the schema `ivr-harness/mutation/v1`: the score, its breakdown per
flow and per trap, and every mutant with its change, status, killers and, for a
survivor, the scenario that would kill it. In JUnit a mutant is a testcase: killed
passes, survived fails (the suite missed a breakage), inconclusive (the machine was too
loaded to judge it), invalid and equivalent are skipped.
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

__all__ = ["SCHEMA_ID", "print_mutation", "write_mutation_reports"]

SCHEMA_ID = "ivr-harness/mutation/v1"


def _case(result: MutantResult) -> Case:
    mutant = result.mutant
    common: dict[str, Any] = {"name": mutant.id, "classname": f"mutate.{mutant.flow_id}"}
    if result.status == "killed":
        return Case(**common, output="killed by " + "; ".join(result.killed_by))
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


def _unclear(result: MutantResult) -> str:
    checks = "; ".join(result.inconclusive)
    return f"inconclusive, the machine was overloaded (rerun it): {checks}"


def _html(report: MutationReport) -> str:
    rows = "".join(
        f"<tr class='{r.status}'><td>{escape(r.mutant.id)}</td><td>{escape(r.status)}</td>"
        f"<td><code>{escape(r.mutant.change())}</code></td>"
        f"<td>{escape('; '.join(r.killed_by or r.inconclusive) or r.suggestion or r.error)}</td>"
        "</tr>"
        for r in report.results
    )
    traps = "".join(
        f"<tr><td>{escape(t)}</td><td>{s:.0%}</td></tr>"
        for t, s in report.by(lambda r: r.mutant.trap).items()
    )
    style = (
        "body{font:14px system-ui,sans-serif;margin:24px}table{border-collapse:collapse}"
        "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}"
        ".survived td{background:#fdecea}.inconclusive td{background:#fff8e1}"
        ".invalid td{color:#777}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>mutation score</title>"
        f"<style>{style}</style></head><body><h1>Mutation score {report.score():.0%}</h1>"
        f"<p>{escape(report.flow_set)}: {len(report.results)} mutants, {report.scenarios} "
        f"scenarios, {report.wall_ms / 1000:.0f} s</p><h2>Per trap</h2><table>{traps}</table>"
        f"<h2>Mutants</h2><table><tr><th>mutant</th><th>status</th><th>change</th>"
        f"<th>killed by / would be killed by</th></tr>{rows}</table></body></html>\n"
    )


def write_mutation_reports(report: MutationReport, report_dir: Path, run_id: str) -> Path:
    """results.json, junit.xml and report.html under report_dir/run_id/."""
    out = report_dir / run_id
    document = {"schema": SCHEMA_ID, "run_id": run_id, **report.to_json()}
    cases = [_case(r) for r in report.results]
    if report.incomplete:  # an interrupted run is an error, with what finished beside it
        cases.append(Case(name="mutate", classname="mutate.interrupted", error=report.incomplete))
    suite = Suite(name=f"mutate {report.flow_set}", cases=cases)
    atomic_write(out / "results.json", json.dumps(document, indent=2) + "\n")
    atomic_write(out / "junit.xml", render_junit([suite], time_s=report.wall_ms / 1000))
    atomic_write(out / "report.html", _html(report))
    survivors = [r for r in report.results if r.status == "survived"]
    unclear = [r for r in report.results if r.status == "inconclusive"]
    append_step_summary(
        f"## ivr-harness mutate: score {report.score():.0%}\n\n"
        + "".join(f"- survived `{r.mutant.change()}`: add {r.suggestion}\n" for r in survivors)
        + "".join(f"- inconclusive `{r.mutant.change()}`: {_unclear(r)}\n" for r in unclear)
    )
    return out


def print_mutation(report: MutationReport, console: Console | None = None) -> None:
    """The score, the score per trap, and every survivor with the scenario to add."""
    console = console or make_console()
    counts = report.to_json()["counts"]
    console.print(
        f"mutation score [bold]{report.score():.0%}[/] on {esc(report.flow_set)}: "
        f"{counts['killed']} killed, {counts['survived']} survived, "
        f"{counts['inconclusive']} inconclusive, {counts['invalid']} invalid, "
        f"{counts['equivalent']} equivalent (the last three excluded) "
        f"in {report.wall_ms / 1000:.0f} s"
    )
    table = Table(box=None, show_header=True, header_style="bold")
    for column in ("trap", "score"):
        table.add_column(column)
    for trap, score in report.by(lambda r: r.mutant.trap).items():
        table.add_row(esc(trap), f"{score:.0%}")
    console.print(table)
    for result in report.results:
        if result.status == "survived":
            console.print(f"  SURVIVED {esc(result.mutant.change())}")
            console.print(f"           add: {esc(result.suggestion)}")
        elif result.status == "inconclusive":
            console.print(f"  INCONCLUSIVE {esc(result.mutant.change())}")
            console.print(f"           {esc(_unclear(result))}")
