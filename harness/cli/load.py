"""`ivr-harness load`: contact-centre load through a flow, on this machine or a Dask cluster."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.cli.app import Interrupted, finishing, run_async
from harness.cli.options import (
    FiniteFloat,
    base_url_option,
    report_dir_option,
    toxiproxy_url_option,
)
from harness.errors import ConfigError, exit_code

if TYPE_CHECKING:
    from harness.report.load_html import LoadEntry
    from harness.scenario.loadplan import LoadPlan
    from harness.scenario.loadrun import LoadRun
    from harness.scenario.model import Scenario
    from harness.scenario.runner import FlowSetRef
    from harness.scenario.shards import LoadReport

__all__ = ["load"]

_SLACK_S = 120.0  # set-up, tear-down and the last calls' hold past the last arrival


@click.command()
@click.argument("scenario_file", type=click.Path(path_type=Path))
@click.option(
    "--flows",
    "flow_dirs",
    type=click.Path(path_type=Path),
    multiple=True,
    help="Flow set folder; repeat it to run the same load through each, side by side. "
    "Default: the project's first flow set, else the bundled hardened set.",
)
@click.option("--callers", type=click.IntRange(min=1), default=None, help="Callers in all (a cap).")
@click.option(
    "--rate",
    type=FiniteFloat(min=0.001, max=100_000),
    default=None,
    help="Arrivals per second of flow time.",
)
@click.option(
    "--arrival",
    type=click.Choice(["fixed", "poisson"]),
    default="fixed",
    show_default=True,
    help="Evenly spaced arrivals, or a Poisson process drawn with --seed.",
)
@click.option(
    "--ramp",
    "ramp_s",
    type=FiniteFloat(min=0),
    default=0.0,
    help="Seconds over which the rate climbs linearly from 0.",
)
@click.option(
    "--duration",
    "duration_s",
    type=FiniteFloat(min=0.001),
    default=None,
    help="Seconds of arrivals (flow time).",
)
@click.option(
    "--slots",
    type=click.IntRange(min=1),
    default=None,
    help="Flow-execution slots (concurrent calls).",
)
@click.option(
    "--max-queue-ms",
    "--patience-ms",
    "max_queue_ms",
    type=click.IntRange(min=0),
    default=None,
    help="A caller waiting longer for a slot hangs up (dropped).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the arrivals.")
@click.option(
    "--audio",
    type=click.Choice(["instant", "real"]),
    default=None,
    help="Play prompts in real time (callers hold as long as real calls do).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:8786",
    help="Run shards on this Dask scheduler's workers (extra: [distributed]).",
)
@click.option(
    "--shards",
    type=click.IntRange(min=1),
    default=None,
    help="Shards of a distributed run. Default: one per worker.",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1, max=256),
    default=1,
    show_default=True,
    help="Shards in this many local processes (one event loop per core).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=FiniteFloat(min=1),
    default=None,
    help="Give up on shards still running after this many seconds.",
)
@report_dir_option
@toxiproxy_url_option
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@base_url_option
def load(
    scenario_file: Path,
    flow_dirs: tuple[Path, ...],
    callers: int | None,
    rate: float | None,
    arrival: str,
    ramp_s: float,
    duration_s: float | None,
    slots: int | None,
    max_queue_ms: int | None,
    seed: int,
    audio: str | None,
    scheduler: str | None,
    shards: int | None,
    processes: int,
    timeout_s: float | None,
    report_dir: Path,
    toxiproxy_url: str | None,
    as_json: bool,
    base_urls: tuple[str, ...],
) -> None:
    """Many concurrent callers through a flow under a scenario's faults.

    Callers arrive at a fixed rate or as a seeded Poisson process (optionally
    ramping up), wait for a flow-execution slot as long as their patience lasts,
    and run the flow while the scenario's faults apply on their schedule.
    Reports dropped calls, dead-air and integration-step percentiles, the
    fallback rate, slot occupancy and queue length over time, and beside them
    the harness's own saturation (event-loop lag, CPU, memory), in load.json and
    report.html (a chart of busy slots and queued callers per second). With
    several --flows the same arrivals and faults run through each flow set in
    turn, side by side in one report: the guide's trap is
    `load scenarios/slot-exhaustion-load.yaml --flows contracts/flows/seed
    --flows contracts/flows/hardened`. Exit 1 when the scenario's expectations
    fail (in-process runs) other than its known defects for that flow set;
    inconclusive (exit 0, said loudly) when they fail while the harness was
    saturated; 2 when a shard was lost.
    """
    from harness.cli.project import open_project
    from harness.faults.client import resolve_url
    from harness.scenario.runner import new_run_id
    from harness.scenario.verdict import suite_verdict

    project = open_project(base_urls)
    scenario = project.load_one(scenario_file)
    if audio:
        scenario = dataclasses.replace(scenario, audio=audio)
    plan = _plan(scenario, callers, rate, arrival, ramp_s, duration_s, slots, max_queue_ms, seed)
    flow_sets = project.flow_sets(flow_dirs)
    flow_sets = flow_sets if flow_dirs else flow_sets[:1]
    for flow_set in flow_sets:
        if flow_set.flows.get(scenario.entry) is None:
            raise ConfigError(
                f"entry flow '{scenario.entry}' is not in {flow_set.path}",
                file=scenario.path,
                pointer="/entry",
            )
    project.probe()
    options = (scheduler, shards, processes)
    run_id = new_run_id()
    bound = timeout_s or _bound(plan)
    url = resolve_url(toxiproxy_url)
    entries: list[LoadEntry] = []
    for flow_set in flow_sets:
        if len(flow_sets) > 1:
            _say(f"load through {flow_set.path}")

        def keep(report: LoadReport, flow_set: FlowSetRef = flow_set) -> None:
            entries.append(_entry(flow_set, flow_sets, report, "error"))

        try:
            report, verdict = _one(scenario, flow_set, plan, run_id, url, bound, keep, options)
        except Interrupted as exc:
            # The one signal path: what finished is written, marked incomplete.
            _write(report_dir, run_id, scenario, plan, "error", entries, f"by {exc.signame}")
            _say(f"{len(entries)} load results (finished or cut short) kept under {report_dir}")
            raise
        entries.append(_entry(flow_set, flow_sets, report, verdict))
    verdict = suite_verdict(e.verdict for e in entries)
    with finishing():
        _write(report_dir, run_id, scenario, plan, verdict, entries)
    _print(entries, verdict, as_json)
    sys.exit(exit_code(verdict))


def _say(line: str) -> None:
    click.echo(line, err=True)


def _one(
    scenario: Scenario,
    flow_set: FlowSetRef,
    plan: LoadPlan,
    run_id: str,
    url: str | None,
    bound: float,
    keep: Callable[[LoadReport], None],
    options: tuple[str | None, int | None, int],
) -> tuple[LoadReport, str]:
    """One flow set's load: in this process, in local processes, or on Dask."""
    scheduler, shards, processes = options
    if not (scheduler or processes > 1):
        return _in_process(scenario, flow_set, plan, run_id, url, keep)
    from harness.scenario import shards as sharded

    where = (
        functools.partial(sharded.run_distributed, scheduler, shards=shards)
        if scheduler
        else functools.partial(sharded.run_processes, processes=processes)
    )
    report = where(scenario, flow_set, plan, run_id=run_id, timeout_s=bound, on_shard=_say)
    return report, "error" if report.lost else "pass"


def _entry(
    flow_set: FlowSetRef, flow_sets: list[FlowSetRef], report: LoadReport, verdict: str
) -> LoadEntry:
    from harness.report.load_html import LoadEntry

    unique = sum(1 for f in flow_sets if f.name == flow_set.name) == 1
    return LoadEntry(
        flow_set=flow_set.name if unique else str(flow_set.path), report=report, verdict=verdict
    )


def _plan(
    scenario: Scenario,
    callers: int | None,
    rate: float | None,
    arrival: str,
    ramp_s: float,
    duration_s: float | None,
    slots: int | None,
    max_queue_ms: int | None,
    seed: int,
) -> LoadPlan:
    from harness.scenario.loadplan import LoadPlan

    spec = scenario.callers
    if rate is None and spec.spacing_ms:
        rate = 1000 / spec.spacing_ms
    plan = LoadPlan(
        arrival=arrival,
        rate=rate or 0.0,
        ramp_s=ramp_s,
        duration_s=duration_s,
        max_calls=callers if callers or duration_s else spec.count,
        slots=slots or spec.concurrency,
        patience_ms=max_queue_ms if max_queue_ms is not None else spec.max_queue_ms,
        seed=seed,
    )
    plan.check()
    return plan


def _bound(plan: LoadPlan) -> float:
    """How long a run of this plan may take before its shards count as lost."""
    from harness.scenario.loadplan import arrival_times

    last = max(arrival_times(plan), default=0.0)
    return (last if math.isfinite(last) else 0.0) + _SLACK_S


def _in_process(
    scenario: Scenario,
    flow_set: FlowSetRef,
    plan: LoadPlan,
    run_id: str,
    url: str | None,
    keep: Callable[[LoadReport], None],
) -> tuple[LoadReport, str]:
    from harness.report.progress import LoadProgressLine
    from harness.scenario.loadrun import LoadRun, run_load
    from harness.scenario.verdict import run_verdict

    out = LoadRun()
    started = time.monotonic()
    try:
        with LoadProgressLine() as progress:
            run = run_async(
                run_load(
                    scenario,
                    flow_set,
                    plan,
                    run_id=run_id,
                    toxiproxy_url=url,
                    on_progress=progress.update,
                    out=out,
                )
            )
    except Interrupted:
        out.wall_s = time.monotonic() - started
        keep(_report_of(out))  # the calls that ended before the signal
        raise
    report = _report_of(run)
    verdict, checks = run_verdict(scenario.known_defects, flow_set.name, run.checks)
    report.checks = checks
    if verdict in ("fail", "unexpected_pass") and report.harness()["saturated"]:
        return report, "inconclusive"  # the harness lagged: its dead air, not the flow's
    return report, verdict


def _report_of(run: LoadRun) -> LoadReport:
    from harness.scenario.load import stats_from
    from harness.scenario.shards import LoadReport, ShardResult

    saturation = run.saturation.to_json(run.counts.calls, run.peak_callers)
    shard = ShardResult(
        index=0,
        worker="in-process",
        histograms=run.histograms,
        counts=run.counts,
        saturation=saturation,
        wall_s=run.wall_s,
    )
    return LoadReport(
        stats=stats_from(run.histograms, run.counts, run.wall_s),
        shards=[shard],
        wall_s=run.wall_s,
    )


def _body(entry: LoadEntry) -> dict[str, Any]:
    return {
        "flow_set": entry.flow_set,
        "verdict": entry.verdict,
        **entry.report.to_json(),
        "checks": [
            {
                "title": c.title,
                "passed": c.passed,
                "known_defect": c.known_defect,
                "actual": c.actual,
            }
            for c in entry.report.checks
        ],  # fmt: skip
    }


def _document(verdict: str, entries: list[LoadEntry]) -> dict[str, Any]:
    """One flow set: its body, flat (as before); several: each under `flow_sets`."""
    if len(entries) == 1:
        return {**_body(entries[0]), "verdict": verdict}
    return {"verdict": verdict, "flow_sets": [_body(e) for e in entries]}


def _write(
    report_dir: Path,
    run_id: str,
    scenario: Scenario,
    plan: LoadPlan,
    verdict: str,
    entries: list[LoadEntry],
    interrupted: str = "",
) -> None:
    from harness.report.files import atomic_write
    from harness.report.load_html import render_load_html
    from harness.report.stream import check_report_dir

    directory = check_report_dir(report_dir, run_id)
    incomplete = f"interrupted {interrupted}" if interrupted else ""
    body = {
        "run_id": run_id,
        **_document(verdict, entries),
        "complete": not incomplete,
        "incomplete_reason": incomplete,
    }
    atomic_write(directory / "load.json", json.dumps(body, indent=2) + "\n")
    html = render_load_html(run_id, scenario, plan, verdict, entries)
    atomic_write(directory / "report.html", html)


def _print(entries: list[LoadEntry], verdict: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(_document(verdict, entries), indent=2))
        return
    from harness.report.load_html import check_mark

    lines: list[str] = []
    for entry in entries:
        report, s, harness = entry.report, entry.report.stats, entry.report.harness()
        lag = harness["loop_lag_ms"]
        if len(entries) > 1:
            lines.append(f"== {entry.flow_set}: {entry.verdict}")
        lines += [
            f"calls {s.calls} ({s.calls_per_second:.1f}/s of wall time), dropped {s.dropped}, "
            f"fallback {s.fallback_rate:.0%}",
            f"dead air p50/p95/p99 {s.dead_air_p50_ms:,.0f} / {s.dead_air_p95_ms:,.0f} / "
            f"{s.dead_air_p99_ms:,.0f} ms",
            *(f"{step} p95 {p95:,.0f} ms" for step, p95 in s.step_p95_ms.items()),
            f"harness: event-loop lag p99 {lag.get('p99', 0):,.0f} ms"
            + (
                " - SATURATED: dead air includes the harness's own lag"
                if harness["saturated"]
                else ""
            ),
        ]
        lines += [f"lost shard {k}: {why}" for k, why in sorted(report.lost.items())]
        lines += [f"{check_mark(c)} {c.title}" for c in report.checks]
    lines.append(f"verdict {verdict}")
    click.echo("\n".join(lines))
