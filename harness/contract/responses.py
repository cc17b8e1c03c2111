"""The response side of a step: mapped paths exist, documented statuses are routed.

Routing is computed, not guessed: for each documented status the router after the step
(the first ``Condition`` reached through plain steps) is evaluated with the variables the
executor leaves behind -- ``http_status_code``, ``http_outcome`` (202 accepted, 2xx
success, 401/403 auth_error, else http_error) and the mapped variables (documented example
values for 2xx, else from ``defaultResponse`` or null).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from harness.contract.openapi import Operation, Spec, resolve_ref
from harness.contract.schemas import (
    Unsupported,
    media_schema,
    parse_jsonpath,
    validate,
    walk_jsonpath,
)
from harness.flow.expr import (
    ExpressionError,
    JsonPath,
    Scope,
    children,
    evaluate_condition,
    evaluate_mapping,
    is_pure_jsonpath,
    parse,
    truthy,
)
from harness.flow.model import Flow, Step
from harness.flow.outcomes import SUCCESSFUL, classify

__all__ = [
    "MappingProblem",
    "Routing",
    "check_mappings",
    "example_values",
    "mapping_paths",
    "representatives",
    "route_statuses",
]

_PLAIN_STEPS = {"DataAPI", "Play"}


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingProblem:
    """A mapping path missing from a documented schema (``severity`` error or note)."""

    severity: str
    mapping: str
    message: str
    spec_pointer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Routing:
    """Where each documented status goes after the step (None: a dead end)."""

    router: str | None
    branches: Mapping[str, str | None]
    notes: tuple[str, ...] = ()

    def success_branches(self) -> set[str | None]:
        return {b for s, b in self.branches.items() if _outcome(s) == "success"}


def representatives(status: str) -> list[int]:
    """Concrete codes for a documented status key ('5XX' is tried as 500 and 503)."""
    if status.isdigit():
        return [int(status)]
    if len(status) == 3 and status[0] in "12345" and status[1:].upper() == "XX":
        first = int(status[0]) * 100
        return [first, first + 3] if first == 500 else [first]
    return []


def _outcome(code: str) -> str:
    return classify(int(code))


def _codes(op: Operation) -> dict[str, str]:
    """Concrete code -> the documented status key it stands for."""
    return {str(code): key for key in op.responses for code in representatives(key)}


# --- examples -------------------------------------------------------------------------


def response_examples(spec: Spec, response_pointer: str) -> list[Any]:
    """Documented example bodies of a response (media ``example``/``examples``, schema)."""
    response = resolve_ref(spec.document, response_pointer)
    if not isinstance(response, dict):
        return []
    media_items: list[Any] = list((response.get("content") or {}).values())
    if spec.version == "2.0":
        # Swagger 2.0: `examples` maps a media type to the example body itself.
        bodies = response.get("examples")
        values = list(bodies.values()) if isinstance(bodies, dict) else []
        named = {str(i): {"value": v} for i, v in enumerate(values)}
        media_items = [{"examples": named, "schema": response.get("schema")}]
    found: list[Any] = []
    for media in media_items:
        if isinstance(media, dict):
            found.extend(_media_examples(spec, media))
    return found


def _media_examples(spec: Spec, media: Mapping[str, Any]) -> Iterator[Any]:
    if "example" in media:
        yield media["example"]
    examples = media.get("examples")
    if isinstance(examples, dict):
        for item in examples.values():
            item = resolve_ref(spec.document, item["$ref"]) if _is_ref(item) else item
            if isinstance(item, dict) and "value" in item:
                yield item["value"]
    schema: Any = media.get("schema")
    if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        schema = resolve_ref(spec.document, schema["$ref"])
    if isinstance(schema, dict) and "example" in schema:
        yield schema["example"]


def _is_ref(node: Any) -> bool:
    return isinstance(node, dict) and isinstance(node.get("$ref"), str)


def example_values(step: Step, op: Operation, spec: Spec) -> dict[str, list[Any]]:
    """Each mapped variable's value over every documented 2xx example (where the example
    has it), and over the example with its arrays emptied when the schema allows that: an
    empty list of slots is a documented answer too, and what the mapping gives then
    (null, usually) is what the flow must be ready for."""
    mapping = step.config.get("responseMapping") or {}
    values: dict[str, list[Any]] = {name: [] for name in mapping}
    for code, key in _codes(op).items():
        if not code.startswith("2"):
            continue
        schema_at, _ = media_schema(spec, op.responses[key])
        for example in response_examples(spec, op.responses[key]):
            emptied = _emptied(example)
            empty_too = emptied != example and _valid(spec, schema_at, emptied)
            for name, path in mapping.items():
                value = _mapped(str(path), example)
                if value is not None:
                    values[name].append(value)
                if empty_too:
                    values[name].append(_mapped(str(path), emptied))
    return values


def _emptied(body: Any) -> Any:
    """``body`` with every array in it empty."""
    if isinstance(body, list):
        return []
    if isinstance(body, dict):
        return {k: _emptied(v) for k, v in body.items()}
    return body


def _valid(spec: Spec, schema_at: str | None, body: Any) -> bool:
    if schema_at is None:
        return False
    try:
        return not validate(spec, schema_at, body)
    except Unsupported:
        return False


def _mapped(path: str, document: Any) -> Any:
    try:
        return evaluate_mapping(path, Scope(variables={}, response=document, now_ms=lambda: 0))
    except ExpressionError:
        return None


# --- mapping paths ----------------------------------------------------------------------


def mapping_paths(value: str) -> list[str] | None:
    """The JSONPaths a mapping value reads (None when it does not parse)."""
    if is_pure_jsonpath(value):
        return [value.strip()]
    try:
        root = parse(value.strip())
    except ExpressionError:
        return None
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        if isinstance(node, JsonPath):
            found.append(node.path)
        stack.extend(children(node))
    return sorted(set(found))


def check_mappings(step: Step, op: Operation, spec: Spec, routing: Routing) -> list[MappingProblem]:
    """Every ``responseMapping`` path against every documented 2xx schema."""
    mapping = step.config.get("responseMapping") or {}
    problems: list[MappingProblem] = []
    success = routing.success_branches()
    for key, pointer in op.responses.items():
        codes = [str(c) for c in representatives(key) if 200 <= c < 300]
        if not codes:
            continue
        schema_at, why = media_schema(spec, pointer)
        own_branch = routing.branches.get(codes[0])
        # A 2xx the flow routes apart from the success branch (202 -> a wait step) is
        # not expected to carry the mapped fields.
        apart = _outcome(codes[0]) != "success" and own_branch not in success
        for name, value in mapping.items():
            problems.extend(_check_one(spec, key, schema_at, why, name, str(value), apart))
    return problems


def _check_one(
    spec: Spec, key: str, schema_at: str | None, why: str, name: str, value: str, apart: bool
) -> Iterator[MappingProblem]:
    paths = mapping_paths(value)
    if paths is None:
        yield MappingProblem(
            severity="note", mapping=name, message="does not parse", spec_pointer=""
        )
        return
    for path in paths:
        if schema_at is None:
            yield MappingProblem(
                severity="note",
                mapping=name,
                spec_pointer=key,
                message=f"{path} not checked: status {key} {why}",
            )
            continue
        segments = parse_jsonpath(path)
        if segments is None:
            yield MappingProblem(
                severity="note",
                mapping=name,
                spec_pointer=schema_at,
                message=f"{path}: filters/slices/descendants are not checked",
            )
            continue
        walk = walk_jsonpath(spec, schema_at, segments)
        if walk.found and walk.open_at:
            # An untyped object says nothing about its fields: the path may be absent in
            # every real answer, so the mapping is a guess the spec does not back.
            yield MappingProblem(
                severity="warning",
                mapping=name,
                spec_pointer=walk.open_at,
                message=f"{path}: '{walk.segment}' is undeclared ({walk.open_at} documents "
                "no fields, so nothing says the backend sends it)",
            )
        if not walk.found:
            severity = "note" if apart else "error"
            message = (
                f"{path}: path not in schema for status {key} (no '{walk.segment}' "
                f"in {walk.missing_at})"
            )
            yield MappingProblem(
                severity=severity, mapping=name, message=message, spec_pointer=schema_at
            )


# --- routing ----------------------------------------------------------------------------


def find_router(flow: Flow, step: Step) -> tuple[Step | None, str | None]:
    """The Condition the step's outcome reaches through plain steps, or the first other step."""
    current = flow.step(step.next_step_id)
    for _ in range(16):
        if current is None or current.type == "Condition":
            return current, None
        if current.type not in _PLAIN_STEPS:
            return None, current.id
        current = flow.step(current.next_step_id)
    return None, None


def route_statuses(flow: Flow, step: Step, op: Operation, spec: Spec) -> Routing:
    """The branch each documented status takes."""
    router, fallthrough = find_router(flow, step)
    codes = _codes(op)
    notes = tuple(
        f"status {k} is not a concrete code; not routed"
        for k in op.responses
        if not representatives(k)
    )
    if router is None:
        return Routing(router=None, branches={c: fallthrough for c in codes}, notes=notes)
    branches = {code: _branch(router, _variables(flow, step, op, spec, code)) for code in codes}
    return Routing(router=router.id, branches=branches, notes=notes)


def _variables(flow: Flow, step: Step, op: Operation, spec: Spec, code: str) -> dict[str, Any]:
    outcome = _outcome(code)
    mapping = step.config.get("responseMapping") or {}
    variables: dict[str, Any] = dict(flow.variables)
    variables.update(
        http_status_code=int(code), http_outcome=outcome, http_attempts=1, subflow_error=False
    )
    if outcome in SUCCESSFUL:
        examples = response_examples(spec, op.responses[_codes(op)[code]])
        for name, path in mapping.items():
            found = [v for v in (_mapped(str(path), e) for e in examples) if v is not None]
            variables[name] = found[0] if found else "sample"
    else:
        default = step.config.get("defaultResponse")
        for name, path in mapping.items():
            variables[name] = _mapped(str(path), default) if default is not None else None
    return variables


def _branch(router: Step, variables: Mapping[str, Any]) -> str | None:
    scope = Scope(variables=variables, now_ms=lambda: 0)
    for cond in router.config.get("conditions") or []:
        if not isinstance(cond, dict):
            continue
        try:
            if truthy(evaluate_condition(str(cond.get("expression", "")), scope)):
                return str(cond.get("nextStepId"))
        except ExpressionError:
            continue  # the platform errors out of this condition; the lint reports it
    default = router.config.get("defaultStepId")
    return str(default) if default else None
