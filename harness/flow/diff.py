"""Two versions of a flow set compared by behaviour, not text.

For every HTTP step and outcome class the lint's router evaluation
(:mod:`harness.flow.lint.router`) says which branch the call takes; from there the call
is followed (plain steps, further Conditions evaluated on the same variables) to the
terminal it reaches. With the worst-case dead air of the step (:mod:`harness.flow.budget`)
that is the step's *behaviour*; a diff lists every class whose branch, terminal or dead air
changed. A change is a **regression** when a class other than success now reaches a
success branch (of either version: a 5xx sent to the old success step makes that step
the new version's fallback by the lint's definition, yet it is still where a success
goes), or when dead air that was within the budget now exceeds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.flow.budget import flow_budget, step_budget
from harness.flow.expr import ExpressionError, Scope, evaluate
from harness.flow.lint.router import (
    evaluate_router,
    outcome_variables,
    route_condition,
    router_of,
)
from harness.flow.model import Flow, FlowSet, Step

__all__ = ["CLASSES", "Behaviour", "Change", "FlowDiff", "behaviour_of", "diff_flow_sets"]

# Outcome class -> (http_status_code, http_outcome, mapped variables present).
CLASSES: Mapping[str, tuple[int, str, bool]] = {
    "success": (200, "success", True),
    "no match": (200, "success", False),
    "202": (202, "accepted", True),
    "400": (400, "http_error", False),
    "401": (401, "auth_error", False),
    "403": (403, "auth_error", False),
    "404": (404, "http_error", False),
    "409": (409, "http_error", False),
    "429": (429, "http_error", False),
    "5xx": (503, "http_error", False),
    "timeout": (0, "timeout", False),
    "connection": (0, "connection_error", False),
    "dns": (0, "dns_error", False),
    "circuit open": (0, "circuit_open", False),
    "too large": (200, "too_large", False),
}
# Mapped values tried for a 2xx, as the lint's router evaluation tries them.
_SAMPLES: tuple[Any, ...] = ({"id": "sample", "attributes": {}}, "ok", True)
_MAX_WALK = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class Behaviour:
    """Where one outcome class of one HTTP step leads, and how long the caller hears nothing."""

    branch: str | None  # the step the router (or the HTTP step) hands the call to
    terminal: str  # the end the call reaches: a step id, 'dead end' or 'loop'
    dead_air_ms: int
    success: bool  # the branch is a success branch (lint's definition)


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One difference between the versions; ``regression`` ones fail."""

    flow_id: str
    step_id: str
    outcome: str
    old: Behaviour | None
    new: Behaviour | None
    regression: bool
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "step_id": self.step_id,
            "outcome": self.outcome,
            "old": _json(self.old),
            "new": _json(self.new),
            "regression": self.regression,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowDiff:
    """All changes; ``failed`` when any is a regression."""

    changes: tuple[Change, ...]
    budget_ms: int

    @property
    def failed(self) -> bool:
        return any(c.regression for c in self.changes)

    def lines(self) -> list[str]:
        return [("REGRESSION " if c.regression else "") + c.text for c in self.changes]

    def to_json(self) -> dict[str, Any]:
        return {
            "budget_ms": self.budget_ms,
            "failed": self.failed,
            "changes": [c.to_json() for c in self.changes],
        }


def _json(b: Behaviour | None) -> dict[str, Any] | None:
    if b is None:
        return None
    return {
        "branch": b.branch,
        "terminal": b.terminal,
        "dead_air_ms": b.dead_air_ms,
        "success": b.success,
    }


def behaviour_of(flows: FlowSet) -> dict[tuple[str, str, str], Behaviour]:
    """(flow id, step id, outcome class) -> behaviour, for every HTTP step of ``flows``."""
    out: dict[tuple[str, str, str], Behaviour] = {}
    for flow in flows:
        for http in flow.http_steps():
            for name, behaviour in _step_behaviour(flows, flow, http).items():
                out[(flow.id, http.id, name)] = behaviour
    return out


def _step_behaviour(flows: FlowSet, flow: Flow, http: Step) -> dict[str, Behaviour]:
    router = router_of(flow, http)
    success = evaluate_router(flow, http, router).success_steps if router else frozenset()
    silent = step_budget(http, flow, flows=flows).silent_ms
    out: dict[str, Behaviour] = {}
    fallback = _route(flow, http, router, 503, "http_error", None)[0]
    for name, (status, outcome, present) in CLASSES.items():
        if outcome == "circuit_open" and "circuitBreaker" not in http.config:
            continue  # a step without a breaker never sees this class
        tries = [_route(flow, http, router, status, outcome, s) for s in _SAMPLES]
        usable = [t for t in tries if t[0] is not None and t[0] != fallback] or tries
        branch, variables = (
            usable[0] if present else _route(flow, http, router, status, outcome, None)
        )
        terminal, quiet = _follow(flows, flow, branch, variables)
        out[name] = Behaviour(
            branch=branch,
            terminal=terminal,
            dead_air_ms=silent + quiet,
            success=branch is not None and branch in success,
        )
    return out


def _route(
    flow: Flow, http: Step, router: Step | None, status: int, outcome: str, present: Any
) -> tuple[str | None, dict[str, Any]]:
    variables = outcome_variables(flow, http, status, outcome, present=present)
    if router is None:
        return http.next_step_id, variables
    return route_condition(router, outcome, variables).target, variables


def _follow(
    flows: FlowSet, flow: Flow, start: str | None, variables: Mapping[str, Any]
) -> tuple[str, int]:
    """The terminal the call reaches from ``start``, and the silence before the caller
    next hears audio (or reaches it)."""
    quiet, heard, seen = 0, False, set[str]()
    scope = dict(variables)  # DataAPI evaluations on the way (a retry flag) change it
    current = start
    while current is not None and len(seen) < _MAX_WALK:
        step = flow.step(current)
        if step is None:
            return f"dangling '{current}'", quiet
        if current in seen:
            return "loop", quiet
        seen.add(current)
        if step.is_terminal:
            return step.id, quiet
        if not heard:
            cost = step_budget(step, flow, flows=flows)
            heard = cost.audio_ms > 0 or cost.caller_input
            quiet += 0 if heard else cost.silent_ms
        if step.type == "Condition":
            current = route_condition(step, "", scope).target
        else:
            _assign(step, scope)
            current = step.next_step_id
    return ("dead end" if current is None else "loop"), quiet


def _assign(step: Step, scope: dict[str, Any]) -> None:
    cfg = step.config
    if step.type != "DataAPI" or cfg.get("operation") != "evaluate":
        return
    target = cfg.get("resultVariable")
    if isinstance(target, str):
        try:
            scope[target] = evaluate(str(cfg.get("expression", "")), Scope(variables=scope))
        except ExpressionError:
            scope[target] = None


def diff_flow_sets(old: FlowSet, new: FlowSet, *, budget_ms: int = 8000) -> FlowDiff:
    """Every behaviour change from ``old`` to ``new`` (nothing for identical behaviour)."""
    before, after = behaviour_of(old), behaviour_of(new)
    # Where the old version sent a success, per HTTP step.
    was_success = {key[:2]: b.branch for key, b in before.items() if key[2] == "success"}
    changes: list[Change] = []
    for key in sorted(set(before) | set(after), key=_order):
        change = _compare(key, before.get(key), after.get(key), budget_ms, was_success)
        if change is not None:
            changes.append(change)
    changes += _entry_budget(old, new, budget_ms)
    return FlowDiff(changes=tuple(changes), budget_ms=budget_ms)


def _order(key: tuple[str, str, str]) -> tuple[str, str, int]:
    classes = list(CLASSES)
    return key[0], key[1], classes.index(key[2]) if key[2] in classes else len(classes)


def _compare(
    key: tuple[str, str, str],
    old: Behaviour | None,
    new: Behaviour | None,
    budget_ms: int,
    was_success: Mapping[tuple[str, str], str | None],
) -> Change | None:
    flow_id, step_id, outcome = key
    where = f"{outcome} on {flow_id}/{step_id}"
    if old == new:
        return None
    if old is None or new is None:
        state = "added" if old is None else "removed"
        shown = new if new is not None else old
        if shown is None:
            return None
        regression = new is not None and outcome != "success" and new.success
        return Change(
            flow_id=flow_id, step_id=step_id, outcome=outcome, old=old, new=new,
            regression=regression,
            text=f"{where}: step {state} (-> {shown.branch or 'dead end'}, ends {shown.terminal})",
        )  # fmt: skip
    parts = []
    if old.branch != new.branch:
        parts.append(f"{old.branch or 'dead end'} -> {new.branch or 'dead end'}")
    if old.terminal != new.terminal:
        parts.append(f"ends {old.terminal} -> {new.terminal}")
    if old.dead_air_ms != new.dead_air_ms:
        parts.append(f"dead air {old.dead_air_ms} -> {new.dead_air_ms} ms")
    success_before = was_success.get((flow_id, step_id))
    now_success = new.success or (new.branch is not None and new.branch == success_before)
    to_success = outcome != "success" and now_success and not old.success
    over = new.dead_air_ms > budget_ms >= old.dead_air_ms
    if over:
        parts.append(f"over the {budget_ms} ms budget")
    if to_success:
        parts.append("now reaches a success branch")
    elif old.success != new.success and old.branch == new.branch:
        # Only the lint's reading of the branch moved (a failure class now goes there too).
        parts.append(f"{new.branch} is {'now' if new.success else 'no longer'} a success branch")
    return Change(
        flow_id=flow_id, step_id=step_id, outcome=outcome, old=old, new=new,
        regression=to_success or over, text=f"{where}: " + "; ".join(parts),
    )  # fmt: skip


def _entry_budget(old: FlowSet, new: FlowSet, budget_ms: int) -> list[Change]:
    """Entry flows whose worst path silence crosses the budget."""
    before = {f.id: flow_budget(old, f.id, dead_air_budget_ms=budget_ms) for f in old.entry_flows()}
    changes = []
    for flow in new.entry_flows():
        now = flow_budget(new, flow.id, dead_air_budget_ms=budget_ms).worst_silence_ms
        was = before[flow.id].worst_silence_ms if flow.id in before else 0
        if now != was and now > budget_ms >= was:
            changes.append(
                Change(
                    flow_id=flow.id,
                    step_id="",
                    outcome="worst path",
                    old=None,
                    new=None,
                    regression=True,
                    text=f"worst path of {flow.id}: dead air {was} -> {now} ms, over the "
                    f"{budget_ms} ms budget",
                )  # fmt: skip
            )
    return changes
