"""The consumer contract: the flows against the OpenAPI specs of what they call, offline.

For every ``HTTPRequest`` step::

    match      method + path template + host -> an operation (or an error / a warning)
    request    hostile values must not break the URL, a JSON-string body or a header;
               plausible values must validate against parameters and requestBody
    mapping    every responseMapping JSONPath exists in each documented 2xx schema
    routing    every documented status reaches a branch on purpose, not the 2xx one
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.contract.guards import guards_for_step
from harness.contract.matching import Match, NamedSpec, match_operation, split_url
from harness.contract.model import ContractFinding, Severity
from harness.contract.openapi import load_spec
from harness.contract.request_check import check_request, describe_example
from harness.contract.responses import (
    Routing,
    check_mappings,
    example_values,
    route_statuses,
)
from harness.contract.values import WITHHELD, Domains, infer_domains, shapes_of, strings_in
from harness.errors import ConfigError
from harness.flow.model import Flow, FlowSet, Step

__all__ = [
    "ConsumerReport",
    "check_consumer",
    "internal_error",
    "load_named_specs",
    "matched_steps",
]

_SEVERITY: dict[str, Severity] = {
    "unsupported": "note",
    "header": "warning",
    "unreached": "warning",
}
_CHECK = {"header": "injection", "unreached": "unsupported"}
_TEMPLATED = ("url", "headers", "body")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerReport:
    """All findings of one consumer pass; ``failed`` when any is an error."""

    findings: tuple[ContractFinding, ...]
    steps_checked: int
    specs: tuple[NamedSpec, ...] = ()
    passed_checks: tuple[str, ...] = field(default_factory=tuple)
    internal_errors: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "steps_checked": self.steps_checked,
            "failed": self.failed,
            "internal_errors": list(self.internal_errors),
            "specs": [
                {
                    "name": s.name,
                    "title": s.spec.title,
                    "file": str(s.spec.file),
                    "version": s.spec.version,
                }
                for s in self.specs
            ],
            "findings": [f.to_json() for f in self.findings],
        }


def load_named_specs(values: Sequence[str]) -> list[NamedSpec]:
    """``NAME=SPEC`` or ``SPEC`` options as loaded specs (unparseable ones raise ConfigError)."""
    specs: list[NamedSpec] = []
    for raw in values:
        name, sep, file = raw.partition("=")
        if not sep or Path(raw).exists():
            name, file = "", raw
        if not file:
            raise ConfigError(f"--spec expects NAME=SPEC or SPEC, got '{raw}'", file="--spec")
        specs.append(NamedSpec(name=name.strip(), spec=load_spec(Path(file))))
    return specs


def check_consumer(
    flows: FlowSet, specs: Sequence[NamedSpec], *, max_examples: int = 150
) -> ConsumerReport:
    """Run every consumer check over every HTTP step of ``flows``.

    A step the checker itself fails on (a defect of ours, never of the flow) is one line
    in ``internal_errors``, naming the step and its file; every other step is still
    checked, and the caller reports the run as unable to finish (exit 2).
    """
    crashes: list[str] = []
    findings: list[ContractFinding] = [
        ContractFinding(
            check="unsupported",
            severity="note",
            message=note,
            spec=s.spec.name,
            file=str(s.spec.file),
        )
        for s in specs
        for note in s.spec.unsupported
    ]
    for flow, step, match, guarded in matched_steps(flows, specs, crashes):
        with _step_crashes(flow, step, "checking it", crashes):
            findings.extend(_check_step(flow, step, match, guarded, max_examples))
    return ConsumerReport(
        findings=tuple(findings),
        steps_checked=sum(len(flow.http_steps()) for flow in flows),
        specs=tuple(specs),
        internal_errors=tuple(crashes),
    )


def matched_steps(
    flows: FlowSet, specs: Sequence[NamedSpec], crashes: list[str]
) -> Iterator[tuple[Flow, Step, Match, Domains]]:
    """Every HTTP step with its operation and the plausible domains of what it reads
    (narrowed by its guards), as the consumer check sees them; a step the checker
    fails on is a line in ``crashes`` and left out."""
    steps = [(flow, step) for flow in flows for step in flow.http_steps()]
    matches, domains = _match_all(flows, steps, specs, crashes)
    shared: dict[Any, Any] = {}
    for flow, step in steps:
        if (flow.id, step.id) not in matches:
            continue
        with _step_crashes(flow, step, "reading its guards", crashes):
            guarded = _guarded(flows, flow, step, domains, shared)
            yield flow, step, matches[(flow.id, step.id)], guarded


def _match_all(
    flows: FlowSet,
    steps: Sequence[tuple[Flow, Step]],
    specs: Sequence[NamedSpec],
    crashes: list[str],
) -> tuple[dict[tuple[str, str], Match], Domains]:
    matches: dict[tuple[str, str], Match] = {}
    mapped: dict[str, list[Any]] = {}
    for flow, step in steps:
        with _step_crashes(flow, step, "matching it to the specs", crashes):
            m = matches[(flow.id, step.id)] = _match(step, specs)
            if m.operation is not None and m.spec is not None:
                for name, values in example_values(step, m.operation, m.spec.spec).items():
                    mapped.setdefault(name, []).extend(values)
    return matches, infer_domains(flows, mapped)


def _guarded(
    flows: FlowSet, flow: Flow, step: Step, domains: Domains, shared: dict[Any, Any]
) -> Domains:
    read = shapes_of(strings_in({k: step.config.get(k) for k in _TEMPLATED}))
    guards = guards_for_step(flows, flow, step, shared, only=read)
    return dataclasses.replace(domains, guards=guards)


@contextlib.contextmanager
def _step_crashes(flow: Flow, step: Step, doing: str, crashes: list[str]) -> Iterator[None]:
    """Turn a crash of the checker at one step into one line naming the step and file."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - ours, not the flow's: reported, never raised
        crashes.append(internal_error(exc, f"{flow.id}/{step.id}", flow.path, step.pointer, doing))


def internal_error(
    exc: BaseException, where: str, file: Path | None, pointer: str, doing: str
) -> str:
    """One line for a defect of the checker: where, the input, the exception."""
    text = str(exc).strip().splitlines()
    detail = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    detail = detail if len(detail) <= 240 else detail[:237] + "..."
    source = f" ({file}#{pointer})" if file is not None else ""
    return f"internal error at {where}{source} while {doing}: {detail}"


def _match(step: Step, specs: Sequence[NamedSpec]) -> Match:
    url = split_url(str(step.config.get("url", "")))
    return match_operation(str(step.config.get("method", "GET")), url, specs)


def _check_step(
    flow: Flow, step: Step, match: Match, domains: Domains, max_examples: int
) -> list[ContractFinding]:
    def finding(check: str, severity: Severity, message: str, **kw: Any) -> ContractFinding:
        return ContractFinding(
            check=check,
            severity=severity,
            message=message,
            flow_id=flow.id,
            step_id=step.id,
            file=str(flow.path) if flow.path else None,
            pointer=step.pointer,
            spec=spec_name,
            **kw,
        )

    spec_name = match.spec.spec.name if match.spec else ""
    out: list[ContractFinding] = []
    if match.operation is None:
        severity: Severity = "warning" if match.spec is None else "error"
        out.append(finding("operation-match", severity, match.reason))
    op, spec = match.operation, match.spec.spec if match.spec else None
    url = split_url(str(step.config.get("url", "")))
    for problem in check_request(step, op, spec, url, domains, max_examples=max_examples):
        severity = _SEVERITY.get(problem.kind, "error")
        check = _CHECK.get(problem.kind, problem.kind)
        out.append(
            finding(
                check,
                severity,
                problem.message,
                spec_pointer=problem.spec_pointer,
                example=describe_example(problem.example),
            )
        )
    if op is None or spec is None:
        return out
    for problem, severity in _withheld_problems(flow, step, op, spec, url, domains, out):
        out.append(
            finding(
                problem.kind,
                severity,
                problem.message,
                spec_pointer=problem.spec_pointer,
                example=describe_example(problem.example),
            )
        )
    routing = route_statuses(flow, step, op, spec)
    for m in check_mappings(step, op, spec, routing):
        sev: Severity = m.severity if m.severity in ("error", "warning") else "note"  # type: ignore[assignment]
        out.append(
            finding(
                "response-mapping", sev, m.message, mapping=m.mapping, spec_pointer=m.spec_pointer
            )
        )
    out.extend(
        finding("status-routing", "error", msg, spec_pointer=at)
        for msg, at in _routing_problems(routing, op.responses, op.pointer)
    )
    out.extend(finding("unsupported", "note", note) for note in routing.notes)
    return out


def _withheld_problems(
    flow: Flow,
    step: Step,
    op: Any,
    spec: Any,
    url: Any,
    domains: Domains,
    already: Sequence[ContractFinding],
) -> list[tuple[Any, Severity]]:
    """Request problems that only a withheld caller ID causes: real calls, so a warning
    when the flow routes the backend's 404 apart from success, else an error."""
    shapes = shapes_of(strings_in({k: step.config.get(k) for k in ("url", "headers", "body")}))
    pinned = {k: v for k, v in WITHHELD.items() if k in shapes and domains.admits(k, v)}
    if not pinned:
        return []
    seen = {f.message for f in already}
    problems = check_request(
        step, op, spec, url, dataclasses.replace(domains, pinned=pinned), max_examples=20
    )
    severity: Severity = "warning" if _routes_not_found(flow, step) else "error"
    names = ", ".join(f"{k}={v!r}" for k, v in pinned.items())
    return [
        (dataclasses.replace(p, message=f"withheld caller ID ({names}): {p.message}"), severity)
        for p in problems
        if p.kind == "request-schema" and p.message not in seen
    ]


def _routes_not_found(flow: Flow, step: Step) -> bool:
    from harness.flow.lint.router import evaluate_router, router_of

    router = router_of(flow, step)
    if router is None:
        return False
    verdict = evaluate_router(flow, step, router)
    target = verdict.route("404").target
    return target is not None and target not in verdict.success_steps


def _routing_problems(
    routing: Routing, responses: Mapping[str, str], op_pointer: str
) -> list[tuple[str, str]]:
    success = routing.success_branches()
    problems: list[tuple[str, str]] = []
    by_key = _keys_of(responses)
    reported: set[tuple[str, str | None]] = set()
    for code, branch in sorted(routing.branches.items()):
        key = by_key.get(code, code)
        if (key, branch) in reported:
            continue  # 5XX is tried as 500 and 503; one finding when both go the same way
        reported.add((key, branch))
        at = responses.get(key, op_pointer)
        if code.startswith("2") and code != "202":
            continue
        if branch is None:
            problems.append(
                (
                    f"status {code} matches no condition of {routing.router} and it "
                    "has no defaultStepId: the caller hits a dead end",
                    at,
                )
            )
        elif branch in success:
            where = (
                f"router {routing.router} sends"
                if routing.router
                else "no Condition routes on the status; the step continues"
            )
            problems.append(
                (
                    f"documented status {code} ({key}) is not routed on purpose: "
                    f"{where} it to '{branch}', the branch meant for 2xx",
                    at,
                )
            )
    return problems


def _keys_of(responses: Mapping[str, str]) -> dict[str, str]:
    from harness.contract.responses import representatives

    return {str(c): key for key in responses for c in representatives(key)}
