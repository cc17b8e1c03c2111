"""The pre-release gate: lint + budget + consumer contract (+ provider) -> one verdict.

Inputs are all read first, so a malformed flow, spec or lint config stops the gate with
exit 2 before anything runs. Each part then yields a :class:`Part`; a part that could not
run (an unreachable base URL) makes the verdict ``error`` (exit 2), any failed part makes
it ``failed`` (exit 1), else ``passed`` (exit 0).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from harness.contract.consumer import check_consumer, load_named_specs
from harness.contract.matching import NamedSpec
from harness.contract.suppressions import (
    Suppressed,
    Suppression,
    apply_suppressions,
    load_suppressions,
)
from harness.errors import ConfigError, HarnessError, exit_code
from harness.flow.loader import load_flow_set
from harness.flow.model import FlowSet
from harness.inputs import check_run_id

__all__ = ["GateOptions", "GateResult", "Part", "make_run_id", "run_gate"]

Status = Literal["passed", "failed", "error", "skipped"]
DEFAULT_DEAD_AIR_MS = 8000


def make_run_id(now: datetime.datetime | None = None, rng: random.Random | None = None) -> str:
    """UTC timestamp + a short random suffix, e.g. ``20260101T120000Z-3f9a``."""
    stamp = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{(rng or random.Random()).getrandbits(16):04x}"


@dataclass(frozen=True, slots=True, kw_only=True)
class GateOptions:
    """Everything the gate needs; the CLI builds it from its options."""

    flows: Path
    specs: Sequence[str]
    base_urls: Mapping[str, str] = field(default_factory=dict)
    report_dir: Path = Path("reports")
    dead_air_ms: int | None = None
    lint_config: Path | None = None
    lint: Any = None  # a LintConfig already read (the CLI's: file, or the project's [lint])
    variables: Mapping[str, Any] = field(default_factory=dict)
    max_examples: int = 150
    provider_examples: int = 20
    provider_max_time: float | None = None
    allow_non_loopback: bool = False
    run_id: str = ""
    baseline: Path | None = None
    seed: int | None = None  # the provider parts' Hypothesis seed
    against: str | None = None  # diff the flows' behaviour against this version
    today: datetime.date | None = None  # when suppressions expire; None: today (UTC)
    # Told of each part as it finishes, so an interrupted gate can report what finished.
    on_part: Callable[[Part], None] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """One part of the verdict: its status, a one-line summary, and the report it read.

    `raw` is the part's own report (lint findings, budget reports, the consumer or
    provider report), which the report layer renders; None when the part errored.
    """

    name: str
    status: Status
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    raw: Any = field(default=None, compare=False, repr=False)
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class GateResult:
    run_id: str
    parts: tuple[Part, ...]
    started_at: str
    duration_s: float
    incomplete: str = ""  # why the gate stopped before every part ran; "" when it did not

    @property
    def lint_findings(self) -> list[Any]:
        """The lint part's Finding objects (for SARIF)."""
        return [f for p in self.parts if p.name == "lint" and p.raw for f in p.raw]

    @property
    def suppressed(self) -> list[Any]:
        """Every ``Suppressed`` finding (lint and consumer), kept out of the verdict."""
        return [s for p in self.parts if p.name == "suppressions" and p.raw for s in p.raw]

    @property
    def verdict(self) -> Status:
        statuses = {p.status for p in self.parts}
        if self.incomplete:
            return "error"
        return "error" if "error" in statuses else "failed" if "failed" in statuses else "passed"

    @property
    def exit_code(self) -> int:
        return exit_code(self.verdict)


def run_gate(options: GateOptions) -> GateResult:
    """Run every part; raises HarnessError only for unusable input (exit 2)."""
    from harness.flow.lint import LintConfig

    started = datetime.datetime.now(datetime.UTC)
    t0 = time.monotonic()
    # A run id names a folder under --report-dir; '../x' would write outside it.
    run_id = check_run_id(options.run_id) if options.run_id else make_run_id()
    flows = load_flow_set(options.flows)
    specs = load_named_specs(options.specs)
    config = options.lint or (
        LintConfig.load(options.lint_config) if options.lint_config else LintConfig()
    )
    budget_ms = options.dead_air_ms or config.dead_air_ms or DEFAULT_DEAD_AIR_MS
    rules = load_suppressions(options.baseline, config)
    old = _older(options) if options.against else None
    today = options.today or datetime.datetime.now(datetime.UTC).date()
    held: list[Suppressed] = []
    timed = functools.partial(_timed, on_part=options.on_part)
    parts = [
        timed(
            "lint", lambda: _lint(flows, config.without_justified(), budget_ms, rules, today, held)
        ),
        timed("budget", lambda: _budget(flows, budget_ms)),
        timed(
            "consumer", lambda: _consumer(flows, specs, options.max_examples, rules, today, held)
        ),
    ]
    for name, url in options.base_urls.items():
        parts.append(
            timed(
                f"provider {name}",
                lambda n=name, u=url: _provider(  # type: ignore[misc]
                    flows, specs, n, u, options
                ),
            )
        )
    if old is not None:
        parts.append(timed("diff", lambda: _diff(old, flows, budget_ms, options.against or "")))
    if rules:
        parts.append(_suppressions(rules, held, today))
    return GateResult(
        run_id=run_id,
        parts=tuple(parts),
        started_at=started.isoformat(),
        duration_s=time.monotonic() - t0,
    )


def _timed(
    name: str, run: Callable[[], Part], on_part: Callable[[Part], None] | None = None
) -> Part:
    """Run one part; a part that cannot run is an ``error`` part, the others still run;
    ``on_part`` hears of each finished part (kept when a stop signal ends the gate)."""
    started = time.monotonic()
    try:
        part = run()
    except HarnessError as exc:
        part = Part(name=name, status="error", summary=str(exc), problems=(str(exc),))
    except Exception as exc:  # noqa: BLE001 - a defect of ours: one line, never a traceback
        lines = str(exc).strip().splitlines()
        detail = f"{type(exc).__name__}: {lines[0][:240]}" if lines else type(exc).__name__
        text = f"internal error in the {name} part: {detail}"
        part = Part(name=name, status="error", summary=text, problems=(text,))
    part = dataclasses.replace(part, duration_s=time.monotonic() - started)
    if on_part is not None:
        on_part(part)
    return part


def _older(options: GateOptions) -> FlowSet:
    """The version ``--against`` names: git:REV:PATH or a folder as given; a bare revision
    means the gate's own FLOWS path at that revision."""
    from harness.flow.versions import GIT_PREFIX, load_version

    ref = options.against or ""
    if not ref.startswith(GIT_PREFIX) and not Path(ref).exists():
        ref = f"{GIT_PREFIX}{ref}:{options.flows}"
    return load_version(ref)


def _diff(old: FlowSet, new: FlowSet, budget_ms: int, against: str) -> Part:
    from harness.flow.diff import diff_flow_sets

    result = diff_flow_sets(old, new, budget_ms=budget_ms)
    regressions = [c.text for c in result.changes if c.regression]
    return Part(
        name="diff",
        status="failed" if regressions else "passed",
        summary=f"{len(result.changes)} behaviour changes against {against}, "
        f"{len(regressions)} regressions",
        details=result.to_json(),
        problems=tuple(regressions),
        raw=result,
    )


def _suppressions(
    rules: Sequence[Suppression], held: Sequence[Suppressed], today: datetime.date
) -> Part:
    expired = [r for r in rules if r.expired(today)]
    problems = [
        f"suppression of {r.rule} at {r.flow}/{r.step or '*'} expired on {r.expires} "
        f"({r.source}): fix the finding or renew the reason"
        for r in expired
    ]
    return Part(
        name="suppressions",
        status="failed" if expired else "passed",
        summary=f"{len(held)} findings suppressed, {len(expired)} of {len(rules)} "
        "suppressions expired",
        details={
            "suppressed": [
                {"finding": s.finding.to_json(), "suppression": s.by.to_json()} for s in held
            ],
            "expired": [r.to_json() for r in expired],
        },
        problems=tuple(problems),
        raw=list(held),
    )


def _lint(
    flows: FlowSet,
    config: Any,
    budget_ms: int,
    rules: Sequence[Suppression],
    today: datetime.date,
    held: list[Suppressed],
) -> Part:
    from harness.flow.lint import lint_flow_set

    every = lint_flow_set(flows, config=config, dead_air_budget_ms=budget_ms)
    findings, suppressed = apply_suppressions(every, rules, today)
    held.extend(suppressed)
    errors = [f for f in findings if f.severity == "error"]
    warnings = sum(f.severity == "warning" for f in findings)
    return Part(
        name="lint",
        status="failed" if errors else "passed",
        summary=f"{len(errors)} errors, {warnings} warnings, {len(findings)} findings",
        details={"findings": [f.to_json() for f in findings]},
        problems=tuple(f"{f.flow_id}/{f.step_id}: [{f.rule_id}] {f.message}" for f in errors),
        raw=findings,
    )


def _budget(flows: FlowSet, budget_ms: int) -> Part:
    from harness.flow.budget import flow_budget

    reports = [flow_budget(flows, f.id, dead_air_budget_ms=budget_ms) for f in flows.entry_flows()]
    over = [r for r in reports if r.over_budget]
    worst = max((r.worst_silence_ms for r in reports), default=0)
    return Part(
        name="budget",
        status="failed" if over else "passed",
        summary=f"worst dead air {worst} ms of {budget_ms} ms over {len(reports)} entry flows",
        raw=reports,
        details={"budget_ms": budget_ms, "flows": [r.to_json() for r in reports]},
        problems=tuple(
            f"{r.flow_id}: dead air {r.worst_silence_ms} ms > {budget_ms} ms" for r in over
        ),
    )


def _consumer(
    flows: FlowSet,
    specs: Sequence[NamedSpec],
    max_examples: int,
    rules: Sequence[Suppression],
    today: datetime.date,
    held: list[Suppressed],
) -> Part:
    checked = check_consumer(flows, specs, max_examples=max_examples)
    kept, suppressed = apply_suppressions(checked.findings, rules, today)
    held.extend(suppressed)
    report = dataclasses.replace(checked, findings=tuple(kept))
    order = ["injection", "response-mapping", "operation-match", "request-schema"]
    errors = sorted(
        (f for f in report.findings if f.severity == "error"),
        key=lambda f: order.index(f.check) if f.check in order else len(order),
    )
    notes = sum(f.severity != "error" for f in report.findings)
    summary = f"{report.steps_checked} HTTP steps, {len(errors)} errors, {notes} notes/warnings"
    if report.internal_errors:
        summary += f", {len(report.internal_errors)} steps not checked (internal error)"
    return Part(
        name="consumer",
        status="error" if report.internal_errors else "failed" if errors else "passed",
        summary=summary,
        raw=report,
        details=report.to_json(),
        problems=(*report.internal_errors, *(f.line() for f in errors)),
    )


def _provider(
    flows: FlowSet, specs: Sequence[NamedSpec], name: str, url: str, options: GateOptions
) -> Part:
    from harness.contract.auth import auth_from_flows
    from harness.contract.provider import run_provider

    named = [s for s in specs if s.name == name or name in {v.host for v in s.spec.servers}]
    if not named or named[0].spec.file is None:
        raise ConfigError(
            f"no --spec for '{name}'",
            file="--base-url",
            hint="name the spec NAME=SPEC with the same NAME",
        )
    routes = {k: v for k, v in options.base_urls.items()}
    auth = auth_from_flows(flows, name, variables=options.variables, routes=routes)
    report = run_provider(
        named[0].spec.file,
        url,
        auth=auth,
        max_examples=options.provider_examples,
        max_time=options.provider_max_time,
        allow_non_loopback=options.allow_non_loopback,
        seed=options.seed,
    )
    failures = sum(len(o.failures) + len(o.errors) for o in report.operations)
    problems = [
        f"{o.label}: {x.splitlines()[0]}" for o in report.operations for x in o.failures + o.errors
    ]
    problems += [f"spec defect: {d.line()}" for d in report.spec_defects]
    problems += report.auth_problems
    problems = list(dict.fromkeys(problems))  # the same failure from several examples
    return Part(
        name=f"provider {name}",
        status="failed" if report.failed else "error" if report.auth_problems else "passed",
        summary=f"{len(report.operations)} operations on {urlsplit(url).netloc}, "
        f"{failures} backend failures, {len(report.spec_defects)} spec defects",
        raw=report,
        details=report.to_json(),
        problems=tuple(problems),
    )
