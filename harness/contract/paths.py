"""How a variable's value travels to a step: the router decisions it must pass on the way.

A value of ``x`` starts where ``x`` is set (a ``CollectDigits``, a ``DataAPI``/``Wait``
result, an HTTP step's ``responseMapping``) or where a flow starts holding it (a default, a
secret, a platform variable), and is replaced at the next step that sets ``x`` again. A
value a ``SubFlow`` returns starts inside the called flow and is walked out through its
``Return``. Between start and target, every ``Condition`` that reads ``x`` is a decision
the value took part in. :func:`arrivals` walks every way from a start to the target step,
across ``SubFlow`` calls and back (the call stack is kept, so a child's ``Return`` goes
back to its own caller), and returns, per way, the decisions taken.

The walk also keeps the constants a way assigns (``DataAPI evaluate 'found'``, a flow's
non-null defaults, ``subflow_error`` false after a normal return, ``wait_timed_out``), so a
router that reads only such flags takes only the branches they allow: a guard written as a
flag (``lookup_result == 'found'`` set after ``customer_profile != null``) still guards.

So a re-prompt loop keeps its guard: the invalid branch goes back to the ``CollectDigits``
that sets ``x`` again, which ends that value's way. A way with no decision at all means the
variable reaches the step unguarded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from harness.flow.expr import ExpressionError, Scope, evaluate_condition, variables_used
from harness.flow.model import Flow, FlowSet, Step

__all__ = ["Decision", "Known", "arrivals", "branches", "known_values", "sets_variable"]

Known = tuple[tuple[str, str], ...]
"""Constants a way holds: sorted (variable, JSON text) pairs."""

Decision = tuple[str, str, int, Known]
"""(flow id, Condition step id, branch index, the constants the router reads); the
default branch is ``len(conditions)``."""

Feasible = Callable[[Step, int, Mapping[str, Any]], bool]

# The runner hands these to every sub-flow whatever its passThroughVariables say.
_ALWAYS_PASSED = frozenset({"ani", "flow_execution_id"})
_MAX_STATES = 50_000
_MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class _Frame:
    flow: str
    call: str  # the SubFlow step
    known: Known  # the caller's constants while the call runs


@dataclass(frozen=True, slots=True)
class _At:
    flow: str
    step: str
    calls: tuple[_Frame, ...]
    taken: frozenset[Decision]
    known: Known


def branches(router: Step) -> list[tuple[str | None, str | None]]:
    """(expression, next step) per condition, then (None, defaultStepId)."""
    cfg = router.config
    out: list[tuple[str | None, str | None]] = [
        (str(c.get("expression", "")), c.get("nextStepId"))
        for c in cfg.get("conditions", []) or []
        if isinstance(c, dict)
    ]
    out.append((None, cfg.get("defaultStepId")))
    return out


def known_values(known: Known) -> dict[str, Any]:
    return {name: json.loads(text) for name, text in known}


def sets_variable(step: Step, name: str) -> bool:
    """Whether running ``step`` replaces the value of ``name``."""
    return name in _sets(step)


def _sets(step: Step) -> set[str]:
    cfg = step.config
    if step.type == "CollectDigits":
        return {str(cfg.get("variable"))}
    if step.type in ("DataAPI", "Wait"):
        found = {str(cfg["resultVariable"])} if cfg.get("resultVariable") else set()
        return found | ({"wait_timed_out"} if step.type == "Wait" else set())
    if step.type == "HTTPRequest":
        mapping = cfg.get("responseMapping")
        return set(mapping) if isinstance(mapping, dict) else set()
    if step.type == "SubFlow":
        return set(cfg.get("returnVariables") or []) | {"subflow_error", "subflow_error_reason"}
    return set()


def arrivals(
    flows: FlowSet,
    name: str,
    target: tuple[str, str],
    reads: Callable[[Step], set[str]],
    feasible: Feasible,
) -> set[frozenset[Decision]] | None:
    """The decisions of routers reading ``name`` on each way a value of ``name`` reaches
    ``target`` (flow id, step id); an empty set inside means an unguarded way. ``reads``
    names what a router reads; ``feasible`` says whether a router can take a branch given
    the constants of the way. None when the flows have too many ways to walk."""
    walk = _Walk(flows, name, reads, feasible)
    work = list(walk.starts())
    seen: set[_At] = set()
    found: set[frozenset[Decision]] = set()
    while work:
        at = work.pop()
        if at in seen:
            continue
        seen.add(at)
        if len(seen) > _MAX_STATES:
            return None
        if (at.flow, at.step) == target:
            found.add(at.taken)
            continue
        flow = flows.get(at.flow)
        step = flow.step(at.step) if flow is not None else None
        if flow is not None and step is not None:
            work.extend(walk.onward(flow, step, at))
    return found


class _Walk:
    def __init__(
        self, flows: FlowSet, name: str, reads: Callable[[Step], set[str]], feasible: Feasible
    ) -> None:
        self.flows, self.name, self.reads, self.feasible = flows, name, reads, feasible
        self.callers = flows.callers()

    def starts(self) -> Iterator[_At]:
        entries = {f.id for f in [*self.flows.entry_flows(), *self.flows.scheduled()]}
        for flow in self.flows:
            sites = self.callers.get(flow.id, [])
            passed_by_all = bool(sites) and all(_passes(step, self.name) for _, step in sites)
            if flow.id in entries or not passed_by_all:
                yield _At(flow.id, flow.entry_step_id, (), frozenset(), _defaults(flow, set()))
            for step in flow.steps:
                # A call's returned value starts inside the called flow (walked from there,
                # back out through its Return); only a call to no known flow starts one here.
                called = step.type == "SubFlow" and self.flows.subflow_target(flow, step)
                if sets_variable(step, self.name) and not called:
                    for nxt, _ in _plain_next(step):
                        yield _At(flow.id, nxt, (), frozenset(), ())

    def onward(self, flow: Flow, step: Step, at: _At) -> Iterator[_At]:
        if step.type == "Condition":
            yield from self._decide(flow, step, at)
        elif step.type == "SubFlow":
            yield from self._call(flow, step, at)
        elif step.type == "Return":
            yield from self._return(flow, at)
        elif not step.is_terminal and not sets_variable(step, self.name):
            for nxt, extra in _plain_next(step):
                known = _after(step, at.known, extra)
                yield _At(flow.id, nxt, at.calls, at.taken, known)

    def _decide(self, flow: Flow, step: Step, at: _At) -> Iterator[_At]:
        read = self.reads(step)
        values = known_values(at.known)
        seen = tuple((k, v) for k, v in at.known if k in read and k != self.name)
        for index, (_, nxt) in enumerate(branches(step)):
            if not nxt or not self.feasible(step, index, values):
                continue
            taken = at.taken
            if self.name in read:
                taken = taken | {(flow.id, step.id, index, seen)}
            yield _At(flow.id, str(nxt), at.calls, taken, at.known)

    def _call(self, flow: Flow, step: Step, at: _At) -> Iterator[_At]:
        child = self.flows.subflow_target(flow, step)
        if child is not None and _passes(step, self.name) and len(at.calls) < _MAX_DEPTH:
            passed = set(step.config.get("passThroughVariables") or []) | _ALWAYS_PASSED
            given = tuple((k, v) for k, v in at.known if k in passed)
            known = tuple(sorted(dict(_defaults(child, passed) + given).items()))
            frame = _Frame(flow.id, step.id, at.known)
            yield _At(child.id, child.entry_step_id, (*at.calls, frame), at.taken, known)
        if not sets_variable(step, self.name) and step.next_step_id:
            # The caller's own value waits out the call unchanged.
            known = _drop(at.known, _sets(step))
            yield _At(flow.id, step.next_step_id, at.calls, at.taken, known)

    def _return(self, flow: Flow, at: _At) -> Iterator[_At]:
        """Back to the caller, carrying the value when the call returns it."""
        if at.calls:
            frame = at.calls[-1]
            parent = self.flows.get(frame.flow)
            call = parent.step(frame.call) if parent is not None else None
            sites = [(parent, call, frame.known)] if parent and call else []
            rest = at.calls[:-1]
        else:  # a walk that started inside this flow: any caller may have called it
            sites = [(p, c, ()) for p, c in self.callers.get(flow.id, [])]
            rest = ()
        for parent, call, before in sites:
            if not sets_variable(call, self.name) or not call.next_step_id:
                continue
            returned = set(call.config.get("returnVariables") or [])
            kept = _drop(before, _sets(call))
            back = tuple((k, v) for k, v in at.known if k in returned)
            known = tuple(sorted({**dict(kept), **dict(back), "subflow_error": "false"}.items()))
            yield _At(parent.id, call.next_step_id, rest, at.taken, known)


def _passes(step: Step, name: str) -> bool:
    return name in _ALWAYS_PASSED or name in (step.config.get("passThroughVariables") or [])


def _plain_next(step: Step) -> Iterator[tuple[str, Known]]:
    """Next steps, each with what taking it tells (a Wait's timeout flag)."""
    cfg = step.config
    wait = step.type == "Wait"
    for key in ("onTimeoutStepId", "onErrorStepId"):
        if cfg.get(key):
            yield str(cfg[key]), ((("wait_timed_out", "true"),) if wait else ())
    if step.next_step_id:
        yield step.next_step_id, ((("wait_timed_out", "false"),) if wait else ())


def _defaults(flow: Flow, passed: set[str]) -> Known:
    """A flow's non-null default values (null ones are filled by a caller or a secret)."""
    return tuple(
        sorted(
            (k, json.dumps(v))
            for k, v in flow.variables.items()
            if v is not None and k not in passed and _scalar(v)
        )
    )


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _drop(known: Known, names: set[str]) -> Known:
    return tuple((k, v) for k, v in known if k not in names)


def _after(step: Step, known: Known, extra: Known) -> Known:
    """The constants after ``step``: what it sets is forgotten, unless it sets a constant."""
    kept = dict(_drop(known, _sets(step)))
    kept.update(extra)
    constant = _constant(step)
    if constant is not None:
        kept[constant[0]] = constant[1]
    return tuple(sorted(kept.items()))


def _constant(step: Step) -> tuple[str, str] | None:
    """(variable, JSON) for a ``DataAPI evaluate`` of an expression that reads nothing."""
    cfg = step.config
    target, expression = cfg.get("resultVariable"), str(cfg.get("expression", ""))
    if step.type != "DataAPI" or cfg.get("operation") != "evaluate" or not target:
        return None
    if any(c in expression for c in "($") or "{{" in expression:
        return None  # a function call (currentTimestamp) is not a constant
    try:
        if variables_used(expression):
            return None
        value = evaluate_condition(expression, Scope(variables={}, now_ms=lambda: 0))
    except ExpressionError:
        return None
    return (str(target), json.dumps(value)) if value is None or _scalar(value) else None
