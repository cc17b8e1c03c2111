"""The chaos side: `call`, `suite` and `chaos` (`load` is in `load.py`)."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.cli.app import Interrupted, finishing, holding, run_async
from harness.cli.options import (
    allow_non_loopback_option,
    base_url_option,
    parse_pairs,
    report_dir_option,
    set_options,
    tenant_variables,
    toxiproxy_url_option,
    typed,
)
from harness.errors import ConfigError, HarnessError, exit_code

if TYPE_CHECKING:
    from harness.events import Event
    from harness.executor.timeline import Caller, CallResult
    from harness.flow.model import FlowSet
    from harness.report.results import Shard
    from harness.scenario.model import Scenario
    from harness.scenario.runner import FlowSetRef, RunResult, SuiteResult

__all__ = ["call", "chaos", "suite"]

_flow_dir_option = click.option(
    "--flows",
    "flow_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Flow set folder. Default: the first of the scenario's `flows:` among the "
    "project's flow folders (else the bundled sets), else the first of those.",
)


@click.command()
@click.argument("flow_dir", type=click.Path(path_type=Path))
@click.option("--flow", "flow_id", required=True, help="Id of the flow the call enters.")
@set_options
@click.option(
    "--base-url",
    "base_urls",
    multiple=True,
    metavar="HOST=URL",
    help="Send requests for HOST (e.g. api.crm-provider.com) to URL.",
)
@click.option(
    "--dtmf", "dtmf", multiple=True, help="Digits the caller keys, one per CollectDigits."
)
@click.option("--ani", default="+14155552671", show_default=True, help="Caller's number.")
@click.option("--skip-audio", is_flag=True, help="Play prompts instantly (timeline keeps them).")
@click.option(
    "--expect", default=None, help="Exit 1 unless the call ends so, e.g. transfer:agent-queue."
)
@click.option("--json", "as_json", is_flag=True, help="Print the timeline and events as JSON.")
@allow_non_loopback_option
def call(
    flow_dir: Path,
    flow_id: str,
    sets: tuple[str, ...],
    set_envs: tuple[str, ...],
    base_urls: tuple[str, ...],
    dtmf: tuple[str, ...],
    ani: str,
    skip_audio: bool,
    expect: str | None,
    as_json: bool,
    allow_non_loopback: bool,
) -> None:
    """Run one simulated call through FLOW_DIR against real HTTP endpoints."""
    from harness.executor.timeline import Caller
    from harness.flow.loader import load_flow_set
    from harness.report.console import print_call

    flows = load_flow_set(flow_dir)
    variables = tenant_variables(sets, set_envs)
    routes = parse_pairs(base_urls, "--base-url")
    caller = Caller(ani=ani, dtmf=dtmf, call_id="call-1")
    result, events = run_async(
        _one_call(flows, flow_id, caller, variables, routes, skip_audio, allow_non_loopback)
    )
    if as_json:
        payload = {"call": result.to_json(), "events": [json.loads(e.to_json()) for e in events]}
        click.echo(json.dumps(payload, indent=2))
    else:
        print_call(result)
    if expect is not None and result.outcome != expect:
        click.echo(f"expected the call to end in {expect}, it ended in {result.outcome}", err=True)
        sys.exit(1)


async def _one_call(
    flows: FlowSet,
    flow_id: str,
    caller: Caller,
    variables: dict[str, Any],
    routes: dict[str, str],
    skip_audio: bool,
    allow_non_loopback: bool,
) -> tuple[CallResult, list[Event]]:
    from harness.events import looks_secret
    from harness.executor.context import ExecutorContext
    from harness.executor.runner import FlowRunner

    ctx = ExecutorContext.create(routes=routes, allow_non_loopback=allow_non_loopback)
    ctx.events.redactor.add(*[v for k, v in variables.items() if looks_secret(k)])
    try:
        runner = FlowRunner(flows, ctx, audio_scale=0.0 if skip_audio else 1.0)
        await runner.run_jobs(variables)  # e.g. the token refresher fills Data Storage
        result = await runner.run_call(flow_id, caller, variables)
        return result, list(ctx.events)
    finally:
        await ctx.aclose()


def _default_scenarios() -> list[Path]:
    from harness.bundled import SCENARIOS

    local = Path("scenarios")
    return [local if local.is_dir() else SCENARIOS]


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--flows",
    "flow_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Flow set folder (repeatable). Default: the bundled hardened and seed sets.",
)
@report_dir_option
@toxiproxy_url_option
@click.option(
    "--scenario-filter", "-k", default=None, help="Run only scenarios whose name contains this."
)
@click.option(
    "--max-parallel",
    default=32,
    show_default=True,
    type=click.IntRange(min=1),
    help="Scenario runs at once.",
)
@click.option(
    "--shard",
    default=None,
    metavar="K/N",
    help="Run only the K-th of N equal shares of the runs (a CI matrix); "
    "merge the reports with `ivr-harness report merge`.",
)
@click.option(
    "--battery/--no-battery",
    default=None,
    help="Run the fault battery generated from the flows (default: on when the project "
    "configures backends).",
)
@click.option(
    "--max-reruns",
    type=click.IntRange(0, 5),
    default=1,
    show_default=True,
    help="Rerun an inconclusive run (the harness measured itself overloaded) this often.",
)
@base_url_option
@allow_non_loopback_option
def suite(
    paths: tuple[Path, ...],
    flow_dirs: tuple[Path, ...],
    report_dir: Path,
    toxiproxy_url: str | None,
    scenario_filter: str | None,
    max_parallel: int,
    shard: str | None,
    battery: bool | None,
    max_reruns: int,
    base_urls: tuple[str, ...],
    allow_non_loopback: bool,
) -> None:
    """The nightly resilience suite: every scenario against every flow set.

    PATHS are scenario files or folders (default: the project's, else ./scenarios,
    else the bundled catalogue). With a project configuration that names backends,
    the fault battery derived from the flows runs too. Known defects of a flow set
    (a scenario's known_defects) are listed as expected findings; exit 1 when anything
    else fails or a known defect is no longer detected.
    """
    from harness.cli.project import open_project

    project = open_project(base_urls)
    scenario_paths = project.scenario_paths(paths)
    use_battery = project.battery_on(battery)
    if not scenario_paths and not (project.config is not None and use_battery):
        scenario_paths = _default_scenarios()
    broken: list[HarnessError] = []  # scenario files that do not load: reported, not fatal
    scenarios = project.load(scenario_paths, broken) if scenario_paths else []
    if broken and not scenarios:
        raise broken[0]
    flow_sets = project.flow_sets(flow_dirs)
    if use_battery:
        scenarios += project.battery(flow_sets)
    if scenario_filter:
        scenarios = [s for s in scenarios if scenario_filter in s.name]
    if not scenarios:
        raise ConfigError("no scenario to run", file=", ".join(map(str, paths)) or "scenarios/")
    scenarios, share = _shard(scenarios, flow_sets, shard or "1/1")
    project.probe()
    result = _run_with_reports(
        scenarios,
        flow_sets,
        report_dir,
        toxiproxy_url,
        max_parallel,
        allow_non_loopback=allow_non_loopback,
        broken=broken,
        max_reruns=max_reruns,
        notes=project.notes,
        shard=share,
    )
    sys.exit(exit_code(result.verdict))


def _shard(
    scenarios: list[Scenario], flow_sets: list[FlowSetRef], spec: str
) -> tuple[list[Scenario], Shard]:
    """The runs of shard K of N (every N-th (scenario, flow set) pair in run-id order),
    and which share of which suite that is, for results.json and `report merge`."""
    from harness.report.results import Shard, suite_fingerprint
    from harness.scenario.runner import suite_pairs

    index, sep, count = spec.partition("/")
    digits = all(part.isascii() and part.isdigit() and len(part) <= 6 for part in (index, count))
    if not (sep and digits and 1 <= int(index) <= int(count)):
        raise ConfigError(f"--shard expects K/N with 1 <= K <= N, got '{spec}'", file="--shard")
    pairs = sorted(suite_pairs(scenarios, flow_sets), key=lambda p: (p[0].name, p[1].name))
    share = Shard(
        index=int(index), count=int(count), suite=suite_fingerprint(pairs), suite_runs=len(pairs)
    )
    mine = pairs[int(index) - 1 :: int(count)]
    if not pairs:
        return scenarios, share  # nothing applies: the suite says why, with a hint
    if not mine:
        raise ConfigError(f"shard {spec} has no runs: the suite has {len(pairs)}", file="--shard")
    kept: dict[int, tuple[Scenario, list[str]]] = {}
    for scenario, flow_set in mine:
        kept.setdefault(id(scenario), (scenario, []))[1].append(flow_set.name)
    return [dataclasses.replace(s, flows=tuple(names)) for s, names in kept.values()], share


@click.command()
@click.argument("scenario_file", type=click.Path(path_type=Path))
@click.option("--flow", "flow_id", default=None, help="Entry flow id (default: the scenario's).")
@_flow_dir_option
@click.option("--set", "sets", multiple=True, metavar="VAR=VALUE", help="Set a flow variable.")
@report_dir_option
@toxiproxy_url_option
@click.option("--verbose", "-v", is_flag=True, help="Also print every call's full timeline.")
@base_url_option
@allow_non_loopback_option
def chaos(
    scenario_file: Path,
    flow_id: str | None,
    flow_dir: Path | None,
    sets: tuple[str, ...],
    report_dir: Path,
    toxiproxy_url: str | None,
    verbose: bool,
    base_urls: tuple[str, ...],
    allow_non_loopback: bool,
) -> None:
    """An ad hoc chaos run of one scenario, with live progress and a per-call timeline."""
    from harness.cli.project import open_project
    from harness.report.console import make_console, print_call, print_calls, print_checks

    project = open_project(base_urls)
    scenario = project.load_one(scenario_file)
    scenario_flows = () if flow_dir else scenario.flows
    overrides = {k: typed(v) for k, v in parse_pairs(sets, "--set").items()}
    scenario = dataclasses.replace(
        scenario,
        entry=flow_id or scenario.entry,
        variables={**scenario.variables, **overrides},
        flows=(),
    )
    known = project.flow_sets([flow_dir] if flow_dir else [])
    flow_sets = _chaos_flow_set(known, scenario_flows, scenario.path)
    project.probe()
    result = _run_with_reports(
        [scenario],
        flow_sets,
        report_dir,
        toxiproxy_url,
        1,
        summary=False,
        allow_non_loopback=allow_non_loopback,
    )
    console = make_console()
    for run in result.runs:
        print_calls(run, console)
        if verbose:
            for one in run.calls:
                print_call(one, console)
        print_checks(run, console)
    sys.exit(exit_code(result.verdict))


def _chaos_flow_set(
    flow_sets: list[FlowSetRef], wanted: Sequence[str], file: Path | None
) -> list[FlowSetRef]:
    """The one flow set a chaos run uses: the first the scenario names, else the first."""
    if not wanted:
        return flow_sets[:1]
    chosen = [f for f in flow_sets if f.name in wanted]
    if not chosen:
        raise ConfigError(
            f"the scenario runs against flow sets {', '.join(wanted)}, and none is here",
            file=file,
            pointer="/flows",
            hint="known: " + ", ".join(f.name for f in flow_sets) + "; or pass --flows DIR",
        )
    return chosen[:1]


def _unloaded(exc: HarnessError) -> RunResult:
    """A scenario file that did not load, as an `error` run of its own in the reports."""
    from harness.scenario.model import Scenario
    from harness.scenario.runner import RunResult

    file = getattr(exc, "file", None)
    path = Path(file) if file else None
    name = path.stem if path is not None else "scenario"
    return RunResult(
        scenario=Scenario(name=name, path=path),
        flow_set="(not loaded)",
        verdict="error",
        error=str(exc),
    )


def _run_with_reports(
    scenarios: list[Scenario],
    flow_sets: list[FlowSetRef],
    report_dir: Path,
    toxiproxy_url: str | None,
    max_parallel: int,
    *,
    summary: bool = True,
    allow_non_loopback: bool = False,
    broken: Sequence[HarnessError] = (),
    max_reruns: int = 1,
    notes: Sequence[str] = (),
    shard: Shard | None = None,
) -> SuiteResult:
    from harness.faults.client import ToxiproxyControl, resolve_url
    from harness.report.console import make_console, print_suite
    from harness.report.progress import Progress
    from harness.report.stream import ReportStream
    from harness.scenario.runner import (
        check_step_references,
        new_run_id,
        run_suite,
        suite_pairs,
    )

    url = resolve_url(toxiproxy_url)
    runs = len(suite_pairs(scenarios, flow_sets))  # input errors before any report is written
    check_step_references(scenarios, flow_sets)
    if url is not None:
        run_async(ToxiproxyControl(url, "probe").version())  # unreachable: exit 2, no report
    if runs == 0:
        names = ", ".join(f.name for f in flow_sets)
        wanted = sorted({f for s in scenarios for f in s.flows})
        raise ConfigError(
            f"no scenario applies to the flow sets {names}: nothing would run",
            file=scenarios[0].path if len(scenarios) == 1 else "--flows",
            pointer="/flows" if len(scenarios) == 1 else "",
            hint=f"the scenarios name flow sets {', '.join(wanted)}; pass them with --flows"
            if wanted
            else "",
        )
    stream: ReportStream | None = None
    try:
        with holding():  # a signal now would leave a folder without its results.json
            stream = ReportStream(
                report_dir=report_dir,
                run_id=new_run_id(),
                toxiproxy=url or "embedded",
                notes=list(notes),
                shard=shard,
            )
        keep = stream.on_run
        unloaded = [_unloaded(exc) for exc in broken]
        for run in unloaded:
            click.echo(f"error: {run.error}", err=True)
            keep(run)
        with Progress(runs) as progress:

            def finished(run: RunResult) -> None:
                progress.on_run(run)
                keep(run)

            result = run_async(
                run_suite(
                    scenarios,
                    flow_sets,
                    toxiproxy_url=url,
                    run_id=stream.run_id,
                    max_parallel=max_parallel,
                    on_call=progress.on_call,
                    on_run=finished,
                    allow_non_loopback=allow_non_loopback,
                    max_reruns=max_reruns,
                )
            )
    except Interrupted as exc:
        if stream is not None:  # None: the signal came before anything was written
            kept = stream.abort(f"interrupted by {exc.signame}")
            click.echo(f"{len(stream.runs)} finished runs kept in {kept.directory}", err=True)
        raise
    except HarnessError as exc:
        if stream is not None:
            stream.abort(f"harness error: {exc}")
        raise
    result.runs[:0] = unloaded
    with finishing():  # the result is final: a stop signal now cuts no report short
        paths = stream.finish(result)
    console = make_console()
    if summary:
        print_suite(result, console)
    longest = max((r.wall_ms for r in result.runs), default=0.0)
    ratio = result.wall_ms / max(longest, 1)
    timing = (
        f"{result.wall_ms / 1000:.1f} s (longest run {longest / 1000:.1f} s, ratio {ratio:.2f})"
    )
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    console.print(f"verdict [bold]{result.verdict}[/]: {len(result.runs)} runs in {timing}")
    console.print(f"reports in {paths.directory}")
    return result
