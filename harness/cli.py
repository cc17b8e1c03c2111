"""The `ivr-harness` command line.

Exit codes everywhere: 0 all held, 1 a check failed (the system under test is
wrong), 2 the harness could not run (bad input, unreachable server, usage).
`asyncio.run` appears only here and in the pytest plugin.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from harness.cli_support import parse_pairs, tenant_variables, typed
from harness.errors import ConfigError, HarnessError
from harness.report.results import exit_code

if TYPE_CHECKING:
    from harness.events import Event
    from harness.executor.timeline import Caller, CallResult
    from harness.flow.model import FlowSet
    from harness.scenario.model import Scenario
    from harness.scenario.runner import FlowSetRef, SuiteResult

__all__ = ["main", "run_async"]

T = TypeVar("T")


class _Group(click.Group):
    """Turns every HarnessError into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ivr-harness")
def main() -> None:
    """Contract-testing and chaos harness for CXone Studio IVR integrations.

    Exit codes: 0 all held, 1 a check failed, 2 the harness could not run.
    """


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` with SIGTERM handled like Ctrl-C: the run is cancelled, so every
    proxy, toxic and server it created is removed on the way out (exit 143)."""

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is not None:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await work
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        click.echo("terminated", err=True)
        sys.exit(143)


@main.command()
@click.argument("flow_dir", type=click.Path(path_type=Path))
@click.option("--flow", "flow_id", required=True, help="Id of the flow the call enters.")
@click.option("--set", "sets", multiple=True, metavar="VAR=VALUE", help="Set a flow variable.")
@click.option(
    "--set-env",
    "set_envs",
    multiple=True,
    metavar="VAR=ENVVAR",
    help="Set a flow variable from an environment variable (for secrets).",
)
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
@click.option(
    "--allow-non-loopback", is_flag=True, help="Allow targets outside 127.0.0.0/8 and ::1."
)
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


def _default_flow_dirs() -> list[Path]:
    from harness.flow.loader import CONTRACTS

    return [CONTRACTS / "flows" / "hardened", CONTRACTS / "flows" / "seed"]


def _default_scenarios() -> list[Path]:
    from harness.flow.loader import CONTRACTS

    local = Path("scenarios")
    return [local if local.is_dir() else CONTRACTS.parent / "scenarios"]


_TOXIPROXY_HELP = "Drive this Toxiproxy server (default: $TOXIPROXY_URL, else an embedded one)."


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--flows",
    "flow_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Flow set folder (repeatable). Default: the bundled hardened and seed sets.",
)
@click.option(
    "--report-dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True
)
@click.option("--toxiproxy-url", default=None, help=_TOXIPROXY_HELP)
@click.option(
    "--scenario-filter", "-k", default=None, help="Run only scenarios whose name contains this."
)
@click.option("--max-parallel", default=32, show_default=True, help="Scenario runs at once.")
def suite(
    paths: tuple[Path, ...],
    flow_dirs: tuple[Path, ...],
    report_dir: Path,
    toxiproxy_url: str | None,
    scenario_filter: str | None,
    max_parallel: int,
) -> None:
    """The nightly resilience suite: every scenario against every flow set.

    PATHS are scenario files or folders (default: ./scenarios). Known defects of a
    flow set (a scenario's known_defects) are listed as expected findings; exit 1
    when anything else fails or a known defect is no longer detected.
    """
    from harness.scenario.model import load_scenarios
    from harness.scenario.runner import load_flow_sets

    scenarios = load_scenarios(list(paths) or _default_scenarios())
    if scenario_filter:
        scenarios = [s for s in scenarios if scenario_filter in s.name]
    if not scenarios:
        raise ConfigError("no scenario to run", file=", ".join(map(str, paths)) or "scenarios/")
    flow_sets = load_flow_sets(list(flow_dirs) or _default_flow_dirs())
    result = _run_with_reports(scenarios, flow_sets, report_dir, toxiproxy_url, max_parallel)
    sys.exit(exit_code(result.verdict))


@main.command()
@click.argument("scenario_file", type=click.Path(path_type=Path))
@click.option("--flow", "flow_id", default=None, help="Entry flow id (default: the scenario's).")
@click.option(
    "--flows",
    "flow_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Flow set folder. Default: the bundled hardened set.",
)
@click.option("--set", "sets", multiple=True, metavar="VAR=VALUE", help="Set a flow variable.")
@click.option(
    "--report-dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True
)
@click.option("--toxiproxy-url", default=None, help=_TOXIPROXY_HELP)
@click.option("--verbose", "-v", is_flag=True, help="Also print every call's full timeline.")
def chaos(
    scenario_file: Path,
    flow_id: str | None,
    flow_dir: Path | None,
    sets: tuple[str, ...],
    report_dir: Path,
    toxiproxy_url: str | None,
    verbose: bool,
) -> None:
    """An ad hoc chaos run of one scenario, with live progress and a per-call timeline."""
    import dataclasses

    from harness.report.console import make_console, print_call, print_calls, print_checks
    from harness.scenario.model import load_scenario
    from harness.scenario.runner import load_flow_sets

    scenario = load_scenario(scenario_file)
    overrides = {k: typed(v) for k, v in parse_pairs(sets, "--set").items()}
    scenario = dataclasses.replace(
        scenario,
        entry=flow_id or scenario.entry,
        variables={**scenario.variables, **overrides},
        flows=(),
    )
    flow_sets = load_flow_sets([flow_dir or _default_flow_dirs()[0]])
    result = _run_with_reports([scenario], flow_sets, report_dir, toxiproxy_url, 1, summary=False)
    console = make_console()
    for run in result.runs:
        print_calls(run, console)
        if verbose:
            for call in run.calls:
                print_call(call, console)
        print_checks(run, console)
    sys.exit(exit_code(result.verdict))


@main.command()
@click.argument("scenario_file", type=click.Path(path_type=Path))
@click.option(
    "--flows",
    "flow_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Flow set folder (default: hardened).",
)
@click.option(
    "--callers", type=int, default=None, help="Number of callers (default: the scenario's)."
)
@click.option("--rate", type=float, default=None, help="Arrivals per second of flow time.")
@click.option("--slots", type=int, default=None, help="Flow-execution slots (concurrent calls).")
@click.option(
    "--max-queue-ms", type=int, default=None, help="Drop a caller who waits longer for a slot."
)
@click.option(
    "--report-dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True
)
@click.option("--toxiproxy-url", default=None, help=_TOXIPROXY_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
def load(
    scenario_file: Path,
    flow_dir: Path | None,
    callers: int | None,
    rate: float | None,
    slots: int | None,
    max_queue_ms: int | None,
    report_dir: Path,
    toxiproxy_url: str | None,
    as_json: bool,
) -> None:
    """Many concurrent callers through a flow under a scenario's faults.

    Reports dropped calls (no slot in time), dead-air percentiles, the fallback
    rate and each integration step's p95. Exit 1 when the scenario's
    expectations fail. One machine only: past it, use Locust's distributed mode.
    """
    import dataclasses

    from harness.scenario.load import load_stats
    from harness.scenario.model import load_scenario
    from harness.scenario.runner import load_flow_sets

    scenario = load_scenario(scenario_file)
    spec = scenario.callers
    spec = dataclasses.replace(
        spec,
        count=callers or spec.count,
        spacing_ms=round(1000 / rate) if rate else spec.spacing_ms,
        concurrency=slots or spec.concurrency,
        max_queue_ms=max_queue_ms if max_queue_ms is not None else spec.max_queue_ms,
    )
    scenario = dataclasses.replace(scenario, callers=spec, flows=(), known_defects={})
    flow_sets = load_flow_sets([flow_dir or _default_flow_dirs()[0]])
    result = _run_with_reports([scenario], flow_sets, report_dir, toxiproxy_url, 1, summary=False)
    run = result.runs[0]
    stats = load_stats(run.calls, run.wall_ms / 1000)
    if as_json:
        click.echo(json.dumps(stats.to_json(), indent=2))
    else:
        from harness.report.console import print_load

        print_load(run, stats)
    sys.exit(exit_code(result.verdict))


def _run_with_reports(
    scenarios: list[Scenario],
    flow_sets: list[FlowSetRef],
    report_dir: Path,
    toxiproxy_url: str | None,
    max_parallel: int,
    *,
    summary: bool = True,
) -> SuiteResult:
    from harness.faults.client import resolve_url
    from harness.report.console import make_console, print_suite
    from harness.report.progress import Progress
    from harness.report.writer import write_reports
    from harness.scenario.runner import run_suite

    runs = sum(1 for s in scenarios for f in flow_sets if s.applies_to(f.name))
    with Progress(runs) as progress:
        result = run_async(
            run_suite(
                scenarios,
                flow_sets,
                toxiproxy_url=resolve_url(toxiproxy_url),
                max_parallel=max_parallel,
                on_call=progress.on_call,
                on_run=progress.on_run,
            )
        )
    paths = write_reports(result, report_dir)
    console = make_console()
    if summary:
        print_suite(result, console)
    longest = max((r.wall_ms for r in result.runs), default=0.0)
    ratio = result.wall_ms / max(longest, 1)
    timing = (
        f"{result.wall_ms / 1000:.1f} s (longest run {longest / 1000:.1f} s, ratio {ratio:.2f})"
    )
    console.print(f"verdict [bold]{result.verdict}[/]: {len(result.runs)} runs in {timing}")
    console.print(f"reports in {paths.directory}")
    return result


def _attach_optional_commands() -> None:
    """Commands owned by other layers, attached when their modules are present."""
    import importlib

    for module, names in (
        ("harness.faults.cli", ("toxiproxy",)),
        ("harness.backends.cli", ("backend",)),
        ("harness.flow.lint.cli", ("lint_command", "budget_command")),
        ("harness.contract.cli", ("contract_command", "provider_command", "gate_command")),
    ):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        for name in names:
            command = getattr(mod, name, None)
            if isinstance(command, click.Command):
                main.add_command(command)


_attach_optional_commands()

if __name__ == "__main__":
    main()
