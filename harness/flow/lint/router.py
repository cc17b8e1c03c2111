"""Evaluate an error router's own conditions for every HTTP outcome class.

Each class is simulated the way the executor leaves the variables after the step:
``http_status_code``/``http_outcome``, and the mapped variables null (or, when the step
has ``defaultResponse``, mapped from it, as the executor does). The 2xx class runs again
with plausible mapped values, as a 200 and as a 201; the steps those runs reach (except
the 5xx class's fallback, and the default when the other code matched a condition) and
any step whose id contains 'success' form the success branch. So does a step a route
leads to that reads a variable mapped from this step's response in a template (a
prompt, a URL, a body; the step itself or those it leads straight on to): that is where
the answer is used, and after any class but 2xx the variable is null (unless the step's
``defaultResponse`` gives it a value). In a SubFlow, so is a route that returns (setting
a result variable to a literal on the way) to a calling flow whose router then sends the
call to a step reading such a variable the SubFlow returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.flow.expr import (
    Binary,
    Call,
    Conditional,
    ExpressionError,
    Literal,
    Logical,
    Scope,
    Var,
    evaluate_condition,
    evaluate_mapping,
    parse,
    placeholders,
    truthy,
)
from harness.flow.lint.context import strings
from harness.flow.lint.sites import walk
from harness.flow.model import Flow, Step
from harness.flow.outcomes import OUTCOME_CLASSES

__all__ = [
    "Route",
    "RouterVerdict",
    "evaluate_router",
    "outcome_variables",
    "route_condition",
    "router_of",
]

_SAMPLES: tuple[Any, ...] = ({"id": "sample", "attributes": {}}, "ok", True)
# A router may test the exact success code: 200 for a read, 201 for a created resource.
_SUCCESS_CODES = (200, 201)
# How many steps a route is followed straight on (Play after Play) for a read of a
# mapped variable.
_STRAIGHT_ON = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """Where one outcome class goes: a step id, or None for a dead end / an error."""

    outcome: str
    target: str | None
    branch: int | None  # index of the winning condition, None for default / none
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterVerdict:
    routes: tuple[Route, ...]
    success_steps: frozenset[str]
    # Success steps known by what they read: step id -> what reads a mapped variable
    # ("reads 'x'", or where a calling flow reads it after the step returns).
    readers: Mapping[str, str] = field(default_factory=dict)

    def route(self, outcome: str) -> Route:
        return next(r for r in self.routes if r.outcome == outcome)


def router_of(flow: Flow, http: Step) -> Step | None:
    """The Condition step an HTTP step hands its outcome to, if any."""
    nxt = flow.step(http.next_step_id)
    return nxt if nxt is not None and nxt.type == "Condition" else None


def evaluate_router(
    flow: Flow, http: Step, router: Step, callers: Sequence[tuple[Flow, Step]] = ()
) -> RouterVerdict:
    """Route every outcome class (plus ``circuit_open`` when the step has a breaker).
    ``callers``: the flows (and their SubFlow steps) that call ``flow``, where a route
    that returns may be read."""
    classes = dict(OUTCOME_CLASSES)
    if "circuitBreaker" in http.config:
        classes["circuit_open"] = (0, "circuit_open")
    routes = [
        _route(router, name, _variables(flow, http, status, outcome, present=None))
        for name, (status, outcome) in classes.items()
    ]
    # 2xx with plausible mapped values; a step the 5xx class also reaches is a fallback
    # by construction (an outage is never success), so it is not the success branch.
    fallback = next(r.target for r in routes if r.outcome == "5xx")
    success = {s.id for s in flow.steps if "success" in s.id}
    for sample in _SAMPLES:
        reached = [
            _route(router, "2xx", _variables(flow, http, status, "success", present=sample))
            for status in _SUCCESS_CODES
        ]
        # A router that tests one success code (`== 200` for a read) sends the other to
        # its default, the fallback for anything it does not recognise: not a success.
        if any(r.branch is not None for r in reached):
            reached = [r for r in reached if r.branch is not None]
        success.update(r.target for r in reached if r.target is not None and r.target != fallback)
    readers = _readers(flow, http, {r.target for r in routes if r.target is not None}, callers)
    return RouterVerdict(
        routes=tuple(routes), success_steps=frozenset(success | set(readers)), readers=readers
    )


def _readers(
    flow: Flow, http: Step, targets: set[str], callers: Sequence[tuple[Flow, Step]]
) -> dict[str, str]:
    """The targets that use a variable mapped from ``http``'s response in a template,
    here or, after they return, in a calling flow: target -> what reads it."""
    mapping = http.config.get("responseMapping")
    if not isinstance(mapping, Mapping):
        return {}
    default = http.config.get("defaultResponse")
    nulls = {name for name, path in mapping.items()
             if _mapped(str(path), default, flow.variables) is None}  # fmt: skip
    out: dict[str, str] = {}
    for target in sorted(targets):
        read = _first_read(flow, target, nulls)
        if read:
            out[target] = f"reads '{read}'"
        elif returned := _read_after_return(flow, target, nulls, callers):
            out[target] = returned
    return out


def _read_after_return(
    flow: Flow, target: str, names: set[str], callers: Sequence[tuple[Flow, Step]]
) -> str:
    """How a calling flow uses a variable of `names` as it is once `target` returns: the
    route leads straight on to a Return, setting variables to literals on the way
    (`balance_result = 'ok'`), and the caller's router, given those values with `names`
    null, sends the call to a step that reads one (`say-balance`). Only that: a step of
    the caller that reads before its router, or a router past other steps, says nothing."""
    assigned = _straight_to_return(flow, target)
    if assigned is None:
        return ""
    for parent, call in callers:
        returned = set(call.config.get("returnVariables", []))
        nulls = names & returned
        router = parent.step(call.next_step_id)
        if not nulls or router is None or router.type != "Condition":
            continue
        variables = {
            **parent.variables,
            **{k: v for k, v in assigned.items() if k in returned},
            **dict.fromkeys(nulls),
            "subflow_error": False,
            "subflow_error_reason": "",
        }
        route = _route(router, "returned", variables)
        read = _first_read(parent, route.target, nulls) if route.target else ""
        if read:
            return f"returns to '{parent.id}', where '{route.target}' reads '{read}'"
    return ""


def _straight_to_return(flow: Flow, target: str) -> dict[str, Any] | None:
    """The literals `target` and the steps straight on from it set before a Return (a
    DataAPI evaluate of a literal), or None when the way branches, waits or calls out."""
    assigned: dict[str, Any] = {}
    step = flow.step(target)
    for _ in range(_STRAIGHT_ON):
        if step is None:
            return None
        if step.type == "Return":
            return assigned
        if step.type == "DataAPI":
            if step.config.get("operation") != "evaluate":
                return None
            try:
                tree = parse(str(step.config.get("expression", "")))
            except ExpressionError:
                return None
            if not isinstance(tree, Literal) or not step.config.get("resultVariable"):
                return None
            assigned[str(step.config["resultVariable"])] = tree.value
        elif step.type != "Play":
            return None
        step = flow.step(step.next_step_id)
    return None


def _first_read(flow: Flow, target: str, names: set[str]) -> str:
    """A variable of `names` that `target`, or the steps it leads straight on to (Play
    after Play, up to the next HTTP step included), puts in a template or copies with a
    DataAPI evaluate."""
    step = flow.step(target)
    for _ in range(_STRAIGHT_ON):
        # A router may test the variable, a caller's input start another branch: past
        # those the value is no longer known to be null.
        if step is None or step.type in ("Condition", "CollectDigits"):
            return ""
        if step.type == "DataAPI":  # an evaluate that copies the value as it is
            copied = _plain_read(str(step.config.get("expression", "")), names)
            if copied and step.config.get("operation") == "evaluate":
                return copied
        for _pointer, text in strings(step.config, ""):
            read = [v for p in placeholders(text) if (v := _plain_read(p.expr, names))]
            if read:
                return read[0]
        if step.type == "HTTPRequest" or not step.next_step_id:
            return ""
        step = flow.step(step.next_step_id)
    return ""


def outcome_variables(
    flow: Flow, http: Step, status: int, outcome: str, *, present: Any = None
) -> dict[str, Any]:
    """The variables the executor leaves after ``http`` ends with ``status``/``outcome``:
    mapped variables set to ``present`` (None: null, or from ``defaultResponse``)."""
    return _variables(flow, http, status, outcome, present=present)


def route_condition(router: Step, outcome: str, variables: Mapping[str, Any]) -> Route:
    """Where the Condition ``router`` sends a call holding ``variables`` (the first true
    condition, else ``defaultStepId``; an expression error is a Route with ``error``)."""
    return _route(router, outcome, variables)


def _variables(
    flow: Flow, http: Step, status: int, outcome: str, *, present: Any
) -> dict[str, Any]:
    mapping: Mapping[str, str] = http.config.get("responseMapping", {})
    variables: dict[str, Any] = {**flow.variables}
    default = http.config.get("defaultResponse")
    for name, path in mapping.items():
        variables[name] = present if present is not None else _mapped(path, default, variables)
    variables.update(
        http_status_code=status,
        http_outcome=outcome,
        http_attempts=1,
        http_elapsed_ms=0,
        http_location="",
        http_error_code="",
    )
    return variables


def _plain_read(expr: str, names: set[str]) -> str:
    """The variable of `names` a placeholder reads as it is (`{{x}}`, `{{f(x)}}`,
    `{{x.y}}`); none when the expression could stand in for a null (`x || 'none'`,
    `x != null ? x : ''`, `coalesce(x, 'none')`)."""
    try:
        tree = parse(expr)
    except ExpressionError:
        return ""
    nodes = list(walk(tree))
    if any(isinstance(n, Logical | Conditional | Binary) or
           (isinstance(n, Call) and n.name == "coalesce") for n in nodes):  # fmt: skip
        return ""
    return next((n.name for n in nodes if isinstance(n, Var) and n.name in names), "")


def _mapped(path: str, default: Any, variables: Mapping[str, Any]) -> Any:
    if default is None:
        return None
    try:
        return evaluate_mapping(path, Scope(variables=variables, response=default))
    except ExpressionError:
        return None


def _route(router: Step, outcome: str, variables: Mapping[str, Any]) -> Route:
    scope = Scope(variables=variables, now_ms=lambda: 0)
    for index, branch in enumerate(router.config.get("conditions", [])):
        try:
            value = evaluate_condition(str(branch.get("expression", "")), scope)
        except ExpressionError as exc:
            return Route(outcome=outcome, target=None, branch=index, error=str(exc))
        if truthy(value):
            return Route(outcome=outcome, target=str(branch.get("nextStepId")), branch=index)
    default = router.config.get("defaultStepId")
    return Route(outcome=outcome, target=str(default) if default else None, branch=None)
