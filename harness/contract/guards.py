"""Guards the way flows write them: router conditions that bound a variable before a step.

A ``Condition`` whose branches do not all lead to an HTTP step is a guard for that step:
only the values for which the router picks a branch that reaches the step get there. For
every such router whose conditions read a single variable (``order_digits.length == 8``,
``matches(order_digits, '^[0-9]+$')``, ``validateE164(phone)``, ``amount >= 1 &&
amount <= 500``, ``lang == 'en' || lang == 'fr'``, ``pin != ''``) the guard is exactly
"the router, evaluated by the expression engine, sends this value towards the step": no
second, hand-written reading of the conditions that could disagree with the platform.

The literals a guard compares with (lengths, patterns, bounds, members) seed the values
drawn for the variable, so a narrow guard still gets drawn values that pass it.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from harness.flow.expr import (
    Call,
    ExpressionError,
    Literal,
    Scope,
    Var,
    children,
    evaluate_condition,
    parse,
    truthy,
)
from harness.flow.model import Flow, FlowSet, Step
from harness.flow.outcomes import OUTCOME_VARIABLES

__all__ = ["Guard", "guards_for_step"]

_MAX_HINT_LENGTH = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class Guard:
    """Values of ``variable`` that can reach a step, as decided by ``routers``."""

    variable: str
    routers: tuple[str, ...]
    admits: Callable[[Any], bool] = field(compare=False, repr=False)
    hints: tuple[st.SearchStrategy[Any], ...] = field(default=(), compare=False, repr=False)

    def narrow(
        self, base: st.SearchStrategy[Any], fits: Callable[[Any], bool] | None = None
    ) -> st.SearchStrategy[Any]:
        """``base`` filtered by the guard, plus values built from the guard's literals that
        ``fits`` keeps inside the base domain (a hint must not invent a 9-key order number
        when the caller can press only 8)."""
        hints = [h.filter(fits) for h in self.hints] if fits is not None else []
        return st.one_of(base, *hints).filter(self.admits)

    def describe(self) -> str:
        return f"guarded by {', '.join(self.routers)}"


def guards_for_step(flows: FlowSet, flow: Flow, http: Step) -> dict[str, Guard]:
    """Every single-variable guard on the way to ``http`` (from any flow of the set)."""
    by_variable: dict[str, list[tuple[str, Callable[[Any], bool], list[Any]]]] = {}
    target = (flow.id, http.id)
    for owner in flows:
        for router in owner.steps:
            if router.type != "Condition":
                continue
            found = _guard_of(flows, owner, router, target)
            if found is not None:
                name, admits, hints = found
                by_variable.setdefault(name, []).append((router.id, admits, hints))
    return {name: _combine(name, parts) for name, parts in by_variable.items()}


def _combine(name: str, parts: list[tuple[str, Callable[[Any], bool], list[Any]]]) -> Guard:
    checks = [admits for _, admits, _ in parts]
    hints = [strategy for _, _, found in parts for strategy in _hint_strategies(found)]
    return Guard(
        variable=name,
        routers=tuple(router for router, _, _ in parts),
        admits=lambda value: all(check(value) for check in checks),
        hints=tuple(hints),
    )


def _guard_of(
    flows: FlowSet, flow: Flow, router: Step, target: tuple[str, str]
) -> tuple[str, Callable[[Any], bool], list[Any]] | None:
    branches = _branches(router)
    leads = [t is not None and _reaches(flows, flow, t, target) for _, t in branches]
    if all(leads) or not any(leads):
        return None
    names, literals = _read(router)
    if len(names) != 1:
        return None  # several variables: the router is not a bound on one of them
    (name,) = names
    allowed = {index for index, lead in enumerate(leads) if lead}

    def admits(value: Any) -> bool:
        return _pick(router, branches, {name: value}) in allowed

    return name, admits, literals


def _branches(router: Step) -> list[tuple[str | None, str | None]]:
    """(expression, target) per condition, then (None, default)."""
    cfg = router.config
    out: list[tuple[str | None, str | None]] = [
        (str(c.get("expression", "")), c.get("nextStepId"))
        for c in cfg.get("conditions", []) or []
        if isinstance(c, dict)
    ]
    out.append((None, cfg.get("defaultStepId")))
    return out


def _pick(router: Step, branches: list[tuple[str | None, str | None]], values: Any) -> int:
    scope = Scope(variables=values, now_ms=lambda: 0)
    for index, (expression, _) in enumerate(branches[:-1]):
        try:
            if truthy(evaluate_condition(expression or "", scope)):
                return index
        except ExpressionError:
            return -1  # the platform fails the step: the value does not get through
    return len(branches) - 1


def _read(router: Step) -> tuple[set[str], list[Any]]:
    """Variables the router's conditions read, and the literals they compare with."""
    names: set[str] = set()
    literals: list[Any] = []
    for expression, _ in _branches(router)[:-1]:
        try:
            stack = [parse(expression or "")]
        except ExpressionError:
            return set(), []
        while stack:
            node = stack.pop()
            if isinstance(node, Var) and node.name not in OUTCOME_VARIABLES:
                names.add(node.name)
            elif isinstance(node, Literal):
                literals.append(node.value)
            elif isinstance(node, Call) and node.name == "validateE164":
                literals.append(_E164_HINT)
            stack.extend(children(node))
    return names, literals


def _reaches(flows: FlowSet, flow: Flow, start: str, target: tuple[str, str]) -> bool:
    """Whether ``target`` (flow id, step id) is reachable from step ``start`` of ``flow``."""
    seen: set[tuple[str, str]] = set()
    stack = [(flow, start)]
    while stack:
        current, step_id = stack.pop()
        if (current.id, step_id) == target:
            return True
        step = current.step(step_id)
        if step is None or (current.id, step_id) in seen:
            continue
        seen.add((current.id, step_id))
        stack.extend((current, nxt) for nxt in _successors(step))
        if step.type == "SubFlow":
            child = flows.subflow_target(current, step)
            if child is not None:
                stack.append((child, child.entry_step_id))
    return False


def _successors(step: Step) -> Iterator[str]:
    cfg = step.config
    if step.type == "Condition":
        for _, nxt in _branches(step):
            if nxt:
                yield str(nxt)
        return
    for key in ("onTimeoutStepId", "onErrorStepId"):
        if cfg.get(key):
            yield str(cfg[key])
    if step.next_step_id:
        yield step.next_step_id


class _E164Hint:
    """Marker literal: the router calls validateE164."""


_E164_HINT = _E164Hint()


def _hint_strategies(literals: list[Any]) -> Iterator[st.SearchStrategy[Any]]:
    for value in literals:
        if isinstance(value, _E164Hint):
            yield st.builds(
                lambda a, b: f"+{a}{b}",
                st.sampled_from("123456789"),
                st.text(alphabet=string.digits, min_size=6, max_size=14),
            )
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int | float):
            yield from _number_hints(value)
        elif isinstance(value, str):
            yield st.just(value)
            pattern = _pattern(value)
            if pattern is not None:
                yield st.from_regex(pattern, fullmatch=True)


def _number_hints(value: float) -> Iterator[st.SearchStrategy[Any]]:
    number = int(value)
    if 0 <= number <= _MAX_HINT_LENGTH:  # maybe a length: digits of about that length
        for size in {max(number - 1, 0), number, number + 1}:
            yield st.text(alphabet=string.digits, min_size=size, max_size=size)
    yield st.integers(min_value=number - 1, max_value=number + 1).map(str)


def _pattern(text: str) -> re.Pattern[str] | None:
    """A literal that looks like a regular expression, compiled (else None)."""
    if not any(c in text for c in "^$[]\\+*?{}"):
        return None
    try:
        return re.compile(text)
    except re.error:
        return None
