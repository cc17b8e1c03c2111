"""From gate to platform: `pull`, `deploy` and `drift` through the tenant's Flow API.

Exit codes: 0 held (pulled, deployed, nothing to deploy, no drift), 1 refused (the gate,
a step dependency, a version conflict, a missing scope) or drift found, 2 the harness
could not run (bad input, an unreachable or failing API, a rollback it could not finish).
An interrupted deploy puts back what it wrote, then exits 128 + the signal number.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from harness.cli.options import allow_non_loopback_option, report_dir_option
from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.events import EventLog
    from harness.platform.client import FlowApi
    from harness.platform.credentials import ApiSettings

__all__ = ["deploy", "deploy_job", "drift", "pull"]

F = TypeVar("F", bound=Callable[..., Any])

_API_OPTIONS = (
    click.option(
        "--api-url",
        envvar="CXONE_API_URL",
        default=None,
        help="The Flow API's base URL [env CXONE_API_URL].",
    ),
    click.option(
        "--environment",
        envvar="CXONE_ENVIRONMENT",
        default=None,
        help="The tenant's environment: https://ENV.niceincontact.com [env CXONE_ENVIRONMENT].",
    ),
    click.option(
        "--token-url",
        envvar="CXONE_TOKEN_URL",
        default=None,
        help="OAuth2 token endpoint (default: API_URL/auth/token) [env CXONE_TOKEN_URL].",
    ),
    click.option(
        "--client-id",
        envvar="CXONE_CLIENT_ID",
        default=None,
        help="OAuth2 client id [env CXONE_CLIENT_ID].",
    ),
    click.option(
        "--client-secret-env",
        default="CXONE_CLIENT_SECRET",
        show_default=True,
        metavar="ENV",
        help="Environment variable holding the client secret.",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(min=0.1, max=600),
        default=10.0,
        show_default=True,
        help="Seconds for each request, connect to last byte.",
    ),
    click.option(
        "--retries",
        type=click.IntRange(0, 20),
        default=4,
        show_default=True,
        help="Retries of one request on 429, 5xx, timeouts and connection errors.",
    ),
    click.option(
        "--retry-budget",
        type=click.FloatRange(min=0, max=3600),
        default=30.0,
        show_default=True,
        help="Seconds one request may spend waiting between its attempts (Retry-After included).",
    ),
    allow_non_loopback_option,
    report_dir_option,
    click.option(
        "--run-id", default=None, help="Reports folder name (default: UTC time + suffix)."
    ),
)


def _api_options(function: F) -> F:
    for option in reversed(_API_OPTIONS):
        function = option(function)
    return function


def _settings(options: dict[str, Any]) -> ApiSettings:
    from harness.platform.credentials import ApiSettings
    from harness.platform.retry import RetryPolicy

    url = options["api_url"]
    if not url and options["environment"]:
        url = f"https://{options['environment']}.niceincontact.com"
    if not url:
        raise ConfigError(
            "no Flow API named", file="--api-url", hint="pass --api-url or set CXONE_API_URL"
        )
    if not options["client_id"]:
        raise ConfigError(
            "no OAuth2 client", file="--client-id", hint="pass --client-id or set CXONE_CLIENT_ID"
        )
    secret_env = options["client_secret_env"]
    secret = os.environ.get(secret_env)
    if not secret:
        raise ConfigError(
            f"environment variable {secret_env} holds no client secret",
            file="--client-secret-env",
            hint=f"export {secret_env}=...",
        )
    policy = RetryPolicy(
        timeout_s=options["timeout"],
        attempts=options["retries"] + 1,
        retry_budget_s=options["retry_budget"],
    )
    return ApiSettings(
        base_url=url,
        token_url=options["token_url"] or "",
        client_id=options["client_id"],
        client_secret=secret,
        policy=policy,
        allow_non_loopback=options["allow_non_loopback"],
    )


class _Run:
    """What every command of this family shares: settings, the event log, the reports folder."""

    def __init__(self, options: dict[str, Any]) -> None:
        from harness.contract.gate import make_run_id
        from harness.events import EventLog
        from harness.inputs import check_run_id

        self.settings = _settings(options)
        self.events: EventLog = EventLog()
        self.run_id = check_run_id(options["run_id"]) if options["run_id"] else make_run_id()
        self.out: Path = options["report_dir"] / self.run_id

    def api(self) -> FlowApi:
        """A client for one event loop (each `run_async` gets its own)."""
        from harness.platform.client import FlowApi

        return FlowApi(self.settings, events=self.events)

    def echo(self, text: str, *, err: bool = False) -> None:
        click.echo(self.events.redactor(text), err=err)


@click.command()
@click.argument("dest", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--flow",
    "flow_ids",
    multiple=True,
    metavar="ID",
    help="Pull this flow and the SubFlows it calls (repeatable; default: every flow).",
)
@_api_options
def pull(dest: Path, flow_ids: tuple[str, ...], **options: Any) -> None:
    """Write the deployed flows, and every SubFlow they call, into DEST as a flow folder.

    One canonical text per flow (sorted keys, two-space indent), so a second pull writes
    the same bytes: ready for git.
    """
    from harness.cli.app import run_async
    from harness.platform.pull import pull as pull_flows
    from harness.report.files import atomic_write
    from harness.report.platform import pull_results, write_pull_reports

    run = _Run(options)

    async def work() -> Any:
        async with run.api() as api:
            return await pull_flows(api, dest, flow_ids)

    pulled = run_async(work())
    for path, text in pulled.files.items():
        if path in pulled.changed:
            atomic_write(path, text)
    results = pull_results(pulled, run_id=run.run_id, api_url=run.settings.base_url, dest=dest)
    for flow in results["flows"]:
        state = "wrote" if flow["changed"] else "same "
        run.echo(f"{state} {flow['file']} ({flow['id']} version {flow['version']})")
    out = write_pull_reports(results, run.out, run.events)
    run.echo(
        f"pulled {len(pulled.flows)} flows into {dest}, {len(pulled.changed)} changed; "
        f"reports: {out}"
    )


@click.command()
@click.argument("flows", type=click.Path(path_type=Path))
@click.option(
    "--spec",
    "specs",
    multiple=True,
    metavar="[NAME=]SPEC",
    help="OpenAPI spec for the gate (default: the configuration's backends).",
)
@click.option("--dry-run", is_flag=True, help="Check, gate, diff and plan; write nothing.")
@click.option(
    "--dead-air-ms",
    type=click.IntRange(min=1),
    default=None,
    help="The dead-air budget (default: the configuration's, else 8000).",
)
@click.option("--lint-config", type=click.Path(path_type=Path), default=None)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    default=None,
    help="The gate's suppressions file (see `gate --baseline`).",
)
@click.option("--max-examples", default=150, show_default=True, type=click.IntRange(1, 10_000))
@_api_options
def deploy(
    flows: Path,
    specs: tuple[str, ...],
    dry_run: bool,
    dead_air_ms: int | None,
    lint_config: Path | None,
    baseline: Path | None,
    max_examples: int,
    **options: Any,
) -> None:
    """Deploy the flow files FLOWS through the Flow API, if and only if they pass the gate.

    Checks step dependencies against what is deployed (every SubFlow's flowId deployed or
    in the release, its variables set by the side that sends them), runs the gate on what
    will be live, shows the behavioural diff against what is, then PUTs the changed flows
    SubFlows first, each with the next version number, reading each back. All or nothing:
    on any failure, or SIGINT/SIGTERM, every flow written is put back. A flow changed on
    the tenant meanwhile is a version conflict (exit 1), never overwritten.
    """
    from harness.cli.app import Interrupted, run_async
    from harness.cli.static import lint_config_path
    from harness.platform.release import ReleaseOptions, apply, judge, load_release, read_tenant

    run = _Run(options)
    project = _project_specs(specs, dead_air_ms)
    release = load_release(
        flows,
        ReleaseOptions(
            flows=flows,
            specs=project[0],
            work=run.out,
            dead_air_ms=project[1],
            lint_config=lint_config_path(lint_config, flows),
            baseline=baseline,
            max_examples=max_examples,
            dry_run=dry_run,
        ),
    )

    if not project[0] and '"HTTPRequest"' in json.dumps(release.documents):
        run.echo(
            "warning: no OpenAPI spec (--spec, or [backends] in ivr-harness.toml): the gate's "
            "consumer contract checks no HTTP step",
            err=True,
        )

    async def read() -> None:
        async with run.api() as api:
            await read_tenant(api, release)

    async def write() -> None:
        async with run.api() as api:
            await apply(api, release)

    run_async(read())
    judge(release)
    if release.status == "planned":
        try:
            run_async(write())
        except Interrupted as exc:
            release.interrupted_by = exc.signame
            _deploy_reports(run, release)
            raise
    raise SystemExit(_deploy_reports(run, release))


def _project_specs(
    specs: tuple[str, ...], dead_air_ms: int | None
) -> tuple[tuple[str, ...], int | None]:
    """`--spec` as given, else one per configured backend with a spec; the dead-air budget."""
    from harness.cli.options import project_config

    config = project_config(secrets=False)
    if config is None:
        return specs, dead_air_ms
    if not specs:
        specs = tuple(f"{h}={e.spec}" for h, e in config.backends.items() if e.spec is not None)
    return specs, dead_air_ms or config.dead_air_ms


def _deploy_reports(run: _Run, release: Any) -> int:
    from harness.report.gate import write_reports
    from harness.report.platform import deploy_results, write_deploy_reports

    results = deploy_results(release, run_id=run.run_id, api_url=run.settings.base_url)
    if release.gate is not None:
        write_reports(release.gate, run.out)
    out = write_deploy_reports(release, results, run.out, run.events)
    _print_deploy(run, release, results)
    run.echo(f"reports: {out}")
    return int(results["exit_code"])


def _print_deploy(run: _Run, release: Any, results: dict[str, Any]) -> None:
    for line in release.problems:
        run.echo(f"REFUSED {line}")
    if release.gate is not None:
        gate = release.gate
        run.echo(f"gate {gate.verdict}: " + "; ".join(f"{p.name} {p.status}" for p in gate.parts))
        for part in gate.parts:
            for line in part.problems[:5]:
                run.echo(f"  {part.name}: {line}")
    if results["diff_lines"]:
        run.echo("behaviour against what is deployed:")
        for line in results["diff_lines"]:
            run.echo(f"  {line}")
    for flow in results["flows"]:
        versions = f"{flow['from_version'] or '-'} -> {flow['to_version']}"
        run.echo(f"{flow['action']:9} {flow['id']} ({versions}): {flow['result']}")
    for line in release.conflict:
        run.echo(f"CONFLICT {line}")
    if release.error:
        run.echo(f"error: {release.error}", err=True)
    if not release.rollback_complete:
        run.echo("the rollback is INCOMPLETE: the tenant holds part of this release", err=True)
    verdict = release.status.upper() if release.status != "dry-run" else "DRY RUN"
    run.echo(f"DEPLOY {verdict} (exit {release.exit_code})")


@click.command()
@click.argument("flows", type=click.Path(path_type=Path))
@click.option(
    "--dead-air-ms",
    type=click.IntRange(min=1),
    default=None,
    help="The dead-air budget (default: the configuration's, else 8000).",
)
@_api_options
def drift(flows: Path, dead_air_ms: int | None, **options: Any) -> None:
    """Compare the repository's flows FLOWS with what the tenant runs, by behaviour.

    Exit 1 when the tenant behaves differently (the lines `diff` prints, old = the
    repository, new = the tenant) or lacks a flow; a difference in text only (a prompt,
    a comment) is listed apart and exits 0.
    """
    from harness.cli.app import run_async
    from harness.flow.loader import load_flow_set
    from harness.platform.drift import check_drift
    from harness.report.platform import drift_results, write_drift_reports

    run = _Run(options)
    repository = load_flow_set(flows, resolve_subflows=False)
    budget = _project_specs((), dead_air_ms)[1] or 8000

    async def work() -> Any:
        async with run.api() as api:
            return await check_drift(api, repository, budget_ms=budget)

    report = run_async(work())
    results = drift_results(report, run_id=run.run_id, api_url=run.settings.base_url, flows=flows)
    for line in report.lines():
        run.echo(line)
    for flow_id, pointers in report.text_only.items():
        run.echo(f"text only: {flow_id}: {', '.join(pointers)}")
    out = write_drift_reports(report, results, run.out, run.events)
    state = "DRIFT" if report.drifted else "no drift"
    run.echo(f"{state}: {len(report.flows)} flows against {run.settings.base_url}; reports: {out}")
    raise SystemExit(report.exit_code)


def deploy_job(flow_dirs: list[str]) -> str:
    """The opt-in job `init` appends to the workflow it writes.

    It runs on a push to main once the repository variable IVR_HARNESS_DEPLOY is "true",
    after the resilience job, and deploys each flow folder only if it passes the gate.
    """
    steps = "".join(
        f"      - run: ivr-harness deploy {d} --allow-non-loopback\n" for d in flow_dirs
    )
    return f"""\
  deploy:
    needs: resilience
    if: >-
      github.ref == 'refs/heads/main' && github.event_name == 'push'
      && vars.IVR_HARNESS_DEPLOY == 'true'
    runs-on: ubuntu-latest
    environment: production
    env:
      CXONE_ENVIRONMENT: ${{{{ vars.CXONE_ENVIRONMENT }}}}
      CXONE_CLIENT_ID: ${{{{ vars.CXONE_CLIENT_ID }}}}
      CXONE_CLIENT_SECRET: ${{{{ secrets.CXONE_CLIENT_SECRET }}}}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install ivr-harness
{steps}      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: ivr-harness-deploy
          path: reports/
"""
