"""The `ivr-harness` command line.

Exit codes everywhere: 0 all held, 1 a check failed (the system under test is
wrong), 2 the harness could not run (bad input, unreachable server, usage).
`asyncio.run` appears only here and in the pytest plugin.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.errors import ConfigError, HarnessError

if TYPE_CHECKING:
    from harness.events import Event
    from harness.executor.timeline import Caller, CallResult
    from harness.flow.model import FlowSet

__all__ = ["main"]


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


def parse_pairs(values: Sequence[str], option: str) -> dict[str, str]:
    """NAME=VALUE pairs from repeated options, with a usage error naming the bad one."""
    pairs: dict[str, str] = {}
    for raw in values:
        name, sep, value = raw.partition("=")
        if not sep or not name:
            raise ConfigError(f"{option} expects NAME=VALUE, got '{raw}'", file=option)
        pairs[name.strip()] = value
    return pairs


def _typed(value: str) -> Any:
    """`--set n=3` gives a number, `--set flag=true` a boolean, anything else a string."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, int | float | bool) or parsed is None else value


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
    variables: dict[str, Any] = {k: _typed(v) for k, v in parse_pairs(sets, "--set").items()}
    for var, env_name in parse_pairs(set_envs, "--set-env").items():
        if env_name not in os.environ:
            raise ConfigError(f"environment variable {env_name} is not set", file="--set-env")
        variables[var] = os.environ[env_name]
    routes = parse_pairs(base_urls, "--base-url")
    caller = Caller(ani=ani, dtmf=dtmf, call_id="call-1")
    result, events = asyncio.run(
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


def _attach_optional_commands() -> None:
    """Commands owned by other layers, attached when their modules are present."""
    import importlib

    for module, names in (
        ("harness.faults.cli", ("toxiproxy",)),
        ("harness.backends.cli", ("backend",)),
        ("harness.flow.lint.cli", ("lint_command", "budget_command")),
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
