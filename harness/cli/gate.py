"""The contract side: `contract`, `provider` and `gate`.

Exit codes: 0 all held, 1 a contract failed (flows, backend or spec are wrong), 2 the
harness could not run (unparseable input -> one line naming file + pointer).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from harness.cli.app import Interrupted, finishing
from harness.cli.gate_input import (
    base_urls_of,
    open_project,
    provider_auth,
    provider_targets,
    specs_of,
    variables_of,
)
from harness.cli.options import (
    FiniteFloat,
    allow_non_loopback_option,
    report_dir_option,
    set_options,
)
from harness.cli.static import flows_argument, load_lint_config
from harness.errors import HarnessError

__all__ = ["contract", "diff", "gate", "provider"]


_spec_option = click.option(
    "--spec",
    "specs",
    multiple=True,
    metavar="[NAME=]SPEC",
    help="OpenAPI/Swagger file; NAME is the host the flows call (or the spec's title). "
    'Default: each [backends."HOST"] spec of the project configuration.',
)


@click.command()
@click.argument("flows", type=click.Path(path_type=Path), required=False)
@_spec_option
@click.option(
    "--max-examples",
    default=150,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Hypothesis examples per search.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--notes/--no-notes", default=False, help="Also print notes (unsupported parts).")
@click.option(
    "--pact",
    "pact_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also write the consumer contract as Pact V4 files into DIR, one per backend host "
    "(docs/contracts.md: Pact).",
)
@click.option(
    "--pact-consumer",
    default=None,
    metavar="NAME",
    help="The consumer's name in the pacts (default: the project folder's name, the one "
    "holding ivr-harness.toml; without one, the flow folder's).",
)
def contract(
    flows: Path | None,
    specs: tuple[str, ...],
    max_examples: int,
    as_json: bool,
    notes: bool,
    pact_dir: Path | None,
    pact_consumer: str | None,
) -> None:
    """Consumer contract: check the flow set FLOWS (default: the project's) against the
    OpenAPI specs, offline; with --pact, also write it as Pact files for the backends.

    Exit 0 all held, 1 a finding is an error, 2 the check could not run or could not
    finish a step (one line each on stderr; the other steps' findings are still printed).
    """
    from harness.contract.consumer import check_consumer, load_named_specs
    from harness.flow.loader import load_flow_set

    project = open_project()
    folder = flows_argument(flows, project)
    named = load_named_specs(specs_of(specs, project))
    flow_set = load_flow_set(folder)
    with no_traceback(f"checking {folder}"):
        report = check_consumer(flow_set, named, max_examples=max_examples)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        for finding in report.findings:
            if notes or finding.severity != "note":
                click.echo(f"{finding.severity}: [{finding.check}] {finding.line()}")
        errors = sum(f.severity == "error" for f in report.findings)
        verdict = "FAILED" if report.failed else "passed"
        verdict = "INCOMPLETE" if report.internal_errors else verdict
        click.echo(
            f"consumer contract {verdict}: {report.steps_checked} HTTP steps, "
            f"{errors} errors, {len(report.findings) - errors} notes/warnings"
        )
    if pact_dir is not None:
        consumer = pact_consumer or _consumer_name(folder, project)
        with no_traceback(f"writing pacts for {folder}"):
            _write_pacts(flow_set, named, consumer, pact_dir, max_examples, quiet=as_json)
    for line in report.internal_errors:
        click.echo(f"error: {line}", err=True)
    raise SystemExit(2 if report.internal_errors else 1 if report.failed else 0)


def _write_pacts(
    flow_set: Any, named: Any, consumer: str, folder: Path, max_examples: int, *, quiet: bool
) -> None:
    _save_pacts(_build_pacts(flow_set, named, consumer, max_examples), folder, quiet=quiet)


def _build_pacts(flow_set: Any, named: Any, consumer: str, max_examples: int) -> Any:
    from harness import __version__
    from harness.contract.pact import build_pacts

    return build_pacts(
        flow_set, named, consumer=consumer, harness_version=__version__, max_examples=max_examples
    )


def _save_pacts(export: Any, folder: Path, *, quiet: bool) -> None:
    from harness.report.files import atomic_write

    for pact in export.pacts:
        atomic_write(folder / pact.file_name, pact.text())
        if not quiet:
            click.echo(f"pact: {folder / pact.file_name} ({len(pact.interactions)} interactions)")
    for line in export.skipped:
        click.echo(f"pact: left out {line}", err=True)
    for line in export.internal_errors:
        click.echo(f"error: {line}", err=True)


@contextlib.contextmanager
def no_traceback(doing: str) -> Iterator[None]:
    """A crash of ours becomes one line and exit 2 (HarnessError), never a traceback."""
    try:
        yield
    except (HarnessError, click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except Exception as exc:
        text = str(exc).strip().splitlines()
        detail = f"{type(exc).__name__}: {text[0][:240]}" if text else type(exc).__name__
        raise HarnessError(f"internal error while {doing}: {detail}") from exc


@click.command()
@click.argument("spec", type=click.Path(path_type=Path), required=False)
@click.option(
    "--base-url",
    default=None,
    help="The live backend, e.g. http://127.0.0.1:8080 (default: every configured backend "
    "with a spec and a base_url).",
)
@click.option("--max-examples", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--max-time",
    default=None,
    type=FiniteFloat(min=0.1),
    help="Stop generating after this many seconds.",
)
@click.option("--junit", type=click.Path(path_type=Path), help="Write JUnit XML here.")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Hypothesis seed: the same seed replays the same requests (default: derandomized).",
)
@click.option("--auth-bearer", default=None, help="Send 'Authorization: Bearer T'.")
@click.option("--auth-header", multiple=True, metavar="NAME=VALUE", help="API key header.")
@click.option("--auth-query", multiple=True, metavar="NAME=VALUE", help="API key query param.")
@click.option("--auth-cookie", multiple=True, metavar="NAME=VALUE", help="API key cookie.")
@click.option("--auth-basic", default=None, metavar="USER:PASS", help="Basic credentials.")
@click.option(
    "--oauth-token-url",
    default=None,
    help="OAuth2 client-credentials token URL (with --flows: replaces the flows' one).",
)
@click.option("--oauth-client-id", default=None)
@click.option(
    "--oauth-client-secret-env",
    default=None,
    metavar="ENV",
    help="Environment variable holding the client secret.",
)
@click.option("--oauth-scope", multiple=True, help="Scope to request (repeatable).")
@click.option(
    "--flows",
    "flows",
    type=click.Path(path_type=Path),
    default=None,
    help="Take the auth config from these flows' HTTP steps (default without --auth-* "
    "options: the project's flows and secrets).",
)
@set_options
@allow_non_loopback_option
def provider(
    spec: Path | None,
    base_url: str | None,
    max_examples: int,
    max_time: float | None,
    junit: Path | None,
    seed: int | None,
    **auth_options: Any,
) -> None:
    """Provider contract: schemathesis against the live backend at --base-url.

    Without SPEC and --base-url, every backend of the project configuration that has
    both a spec and a base_url is checked, one after the other.
    """
    from harness.contract.provider import run_provider
    from harness.report.files import atomic_write
    from harness.report.gate_junit import provider_suite
    from harness.report.junit import render_junit

    allow = bool(auth_options.pop("allow_non_loopback"))
    project = open_project()
    suites, codes = [], []
    for target in provider_targets(spec, base_url, project):
        if target.host:
            click.echo(f"== {target.host}: {target.spec} against {target.base_url}")
        with no_traceback(f"checking {target.base_url} against {target.spec}"):
            report = run_provider(
                target.spec,
                target.base_url,
                auth=provider_auth(target, auth_options, project),
                max_examples=max_examples,
                max_time=max_time,
                allow_non_loopback=allow,
                seed=seed,
            )
        codes.append(_print_provider(report, seed))
        suites.append(provider_suite(f"provider {target.host}".strip(), report))
    if junit is not None:
        atomic_write(junit, render_junit(suites))
    raise SystemExit(max(codes, key=lambda c: (c == 1, c)))


def _print_provider(report: Any, seed: int | None) -> int:
    """The report on the console; its exit code (1 failed, 2 refused, 0 passed)."""
    for op in report.operations:
        state = "FAIL" if op.failures or op.errors else "ok"
        click.echo(f"{state:4} {op.label} ({op.calls} calls)")
        for line in op.failures + op.errors:
            click.echo(f"     {line}")
    for defect in report.spec_defects:
        click.echo(f"SPEC {defect.line()}")
    for line in report.auth_problems:
        click.echo(f"AUTH {line}")
    backend = sum(len(o.failures) + len(o.errors) for o in report.operations)
    verdict = "FAILED" if report.failed else "incomplete" if report.auth_problems else "passed"
    replay = f" (seed {seed})" if seed is not None else ""
    click.echo(
        f"provider contract {verdict}{replay}: {backend} backend failures, "
        f"{len(report.spec_defects)} spec defects, {len(report.auth_problems)} operations "
        "refused (401/403)"
    )
    return 1 if report.failed else 2 if report.auth_problems else 0


@click.command()
@click.argument("flows", type=click.Path(path_type=Path), required=False)
@_spec_option
@click.option(
    "--base-url",
    "base_urls",
    multiple=True,
    metavar="NAME=URL",
    help="Also run the provider contract of spec NAME against URL "
    "(default: each configured backend's base_url).",
)
@report_dir_option
@click.option(
    "--dead-air-ms",
    type=click.IntRange(min=1),
    default=None,
    help="Dead-air budget (default: the lint config's, the project's, else 8000).",
)
@click.option("--lint-config", type=click.Path(path_type=Path), default=None)
@set_options
@click.option("--max-examples", default=150, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--provider-examples", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--max-time", default=None, type=FiniteFloat(min=0.1))
@click.option("--run-id", default=None, help="Reports folder name (default: UTC time + suffix).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Provider runs' seed.")
@click.option(
    "--against",
    default=None,
    metavar="REF",
    help="Also diff the flows' behaviour against REF: a git revision, git:REV:PATH or a folder.",
)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    default=None,
    help="Suppressions file (JSON): accepted findings, each with a reason and optional expiry.",
)
@click.option(
    "--write-baseline",
    type=click.Path(path_type=Path),
    default=None,
    help="Write every error and warning of this run to FILE as suppressions to justify.",
)
@allow_non_loopback_option
def gate(
    flows: Path | None,
    specs: tuple[str, ...],
    base_urls: tuple[str, ...],
    report_dir: Path,
    dead_air_ms: int | None,
    lint_config: Path | None,
    sets: tuple[str, ...],
    set_envs: tuple[str, ...],
    max_examples: int,
    provider_examples: int,
    max_time: float | None,
    run_id: str | None,
    seed: int | None,
    against: str | None,
    baseline: Path | None,
    write_baseline: Path | None,
    allow_non_loopback: bool,
) -> None:
    """Pre-release gate: lint + budget + consumer (+ provider) contract, one verdict.

    FLOWS, the specs, base URLs, secrets, dead-air budget and lint settings default to
    the project configuration (ivr-harness.toml); flags win. A passing gate also writes
    the consumer contract as Pact files to REPORT_DIR/<run-id>/pacts/.
    """
    from harness.contract.gate import GateOptions, make_run_id, run_gate
    from harness.inputs import check_run_id
    from harness.report.gate import print_summary, write_reports
    from harness.report.stream import check_new_run_folder

    project = open_project()
    folder = flows_argument(flows, project)
    urls = base_urls_of(base_urls, project)
    finished: list[Any] = []
    started = (time.monotonic(), datetime.datetime.now(datetime.UTC).isoformat())
    options = GateOptions(
        flows=folder,
        specs=specs_of(specs, project),
        base_urls=urls,
        report_dir=report_dir,
        dead_air_ms=dead_air_ms or (project.dead_air_ms if project else None),
        lint=load_lint_config(lint_config, folder, project),
        variables=variables_of(sets, set_envs, project, send=bool(urls)),
        max_examples=max_examples,
        provider_examples=provider_examples,
        provider_max_time=max_time,
        allow_non_loopback=allow_non_loopback,
        run_id=run_id or make_run_id(),
        baseline=baseline,
        seed=seed,
        against=against,
        on_part=finished.append,
    )
    check_new_run_folder(report_dir, check_run_id(options.run_id))  # never over a report
    try:
        with no_traceback(f"reading the gate's input ({folder})"):
            result = run_gate(options)
        # A passing gate leaves its consumer contract as Pact files, ready for
        # `pact-broker publish` (docs/contracts.md); built before any report is written,
        # so a stop signal meanwhile still marks the reports incomplete.
        pacts = _gate_pacts(folder, project, options) if result.exit_code == 0 else None
    except Interrupted as exc:
        _keep_finished(options.run_id, finished, started, exc, report_dir)
        raise
    with finishing():
        out = write_reports(result, report_dir)
        print_summary(result, out)
        if pacts is not None:
            _save_pacts(pacts, out / "pacts", quiet=False)
    if write_baseline is not None:
        _write_baseline(result, write_baseline)
    raise SystemExit(result.exit_code)


def _consumer_name(folder: Path, project: Any) -> str:
    """The IVR's name in pacts: the project's folder (the one holding ivr-harness.toml)
    when the flows are in it, else the flow folder's own name."""
    flows = folder.resolve()
    if project is not None and flows.is_relative_to(project.root.resolve()):
        return str(project.root.resolve().name)
    return flows.name


def _gate_pacts(folder: Path, project: Any, options: Any) -> Any:
    """The consumer contract of a passing gate as Pact files (None without specs)."""
    from harness.contract.consumer import load_named_specs
    from harness.flow.loader import load_flow_set

    if not options.specs:
        return None
    with no_traceback(f"writing pacts for {folder}"):
        named = load_named_specs(options.specs)
        consumer = _consumer_name(folder, project)
        return _build_pacts(load_flow_set(folder), named, consumer, options.max_examples)


def _keep_finished(
    run_id: str,
    parts: list[Any],
    started: tuple[float, str],
    exc: Interrupted,
    report_dir: Path,
) -> None:
    """The reports of the parts that finished, marked incomplete (the one signal path)."""
    from harness.contract.gate import GateResult
    from harness.report.gate import write_reports

    result = GateResult(
        run_id=run_id,
        parts=tuple(parts),
        started_at=started[1],
        duration_s=time.monotonic() - started[0],
        incomplete=f"interrupted by {exc.signame}",
    )
    out = write_reports(result, report_dir)
    click.echo(f"{len(parts)} finished parts kept in {out}", err=True)


def _write_baseline(result: Any, path: Path) -> None:
    import datetime

    from harness.contract.suppressions import baseline_document
    from harness.report.files import atomic_write

    findings = list(result.lint_findings)
    findings += [f for p in result.parts if p.name == "consumer" and p.raw for f in p.raw.findings]
    findings += [s.finding for s in result.suppressed]
    atomic_write(path, baseline_document(findings, written=datetime.date.today()))
    click.echo(f"baseline written to {path}: replace each reason with the real justification")


@click.command()
@click.argument("old")
@click.argument("new")
@click.option("--dead-air-ms", type=click.IntRange(min=1), default=8000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
def diff(old: str, new: str, dead_air_ms: int, as_json: bool) -> None:
    """Compare two versions of a flow set by behaviour: per HTTP step and outcome class,
    the branch and terminal reached and the worst-case dead air.

    OLD and NEW are folders (or flow files) or git:REV:PATH, e.g. git:HEAD~1:flows. Exit 1
    when a change sends a non-success class to a success branch or dead air over the budget.
    """
    from harness.flow.diff import diff_flow_sets
    from harness.flow.versions import load_version

    with no_traceback(f"comparing {old} with {new}"):
        result = diff_flow_sets(load_version(old), load_version(new), budget_ms=dead_air_ms)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        for line in result.lines():
            click.echo(line)
    raise SystemExit(1 if result.failed else 0)
