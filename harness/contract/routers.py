"""A router's decisions, with what it reads left open as a call would leave it.

Whether a ``Condition`` can take a branch is decided by the expression engine, never a
second reading of the conditions: the router is evaluated with the values given and,
for everything else it reads, with each of a small set of contexts -- the outcome of the
HTTP step before it (every outcome class, plus the statuses the router names) and, for
other variables, the literals compared with them, null, '', booleans and the values next
to the literals (a number's neighbours, digit strings of a length, a regex's own strings).
Used by :mod:`harness.contract.paths` (can a way take this branch, given its flags) and
:mod:`harness.contract.guards` (which values get through).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample, Unsatisfiable

from harness.contract.paths import branches
from harness.flow.expr import (
    Binary,
    Call,
    ExpressionError,
    Literal,
    Node,
    Scope,
    Var,
    children,
    evaluate_condition,
    parse,
    placeholders,
    truthy,
    variables_used,
)
from harness.flow.model import Step
from harness.flow.outcomes import OUTCOME_VARIABLES, classify

__all__ = [
    "E164_HINT",
    "MAX_HINT_LENGTH",
    "E164Hint",
    "can_take",
    "collect",
    "feasible",
    "literals_of",
    "as_pattern",
    "value_key",
    "reads",
]

MAX_HINT_LENGTH = 64
_WITNESSES = 8
_WITNESS_TRIES = 60
_STALE = 20
_MAX_CANDIDATES = 12  # per other variable a router reads
_MAX_OTHER_CONTEXTS = 64  # combinations of the other variables' candidates
_STATUSES = (200, 201, 202, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504)
_NO_RESPONSE = ("timeout", "connection_error", "dns_error", "circuit_open", "too_large")


def collect(
    strategy: st.SearchStrategy[Any],
    keep: Callable[[Any], bool],
    *,
    limit: int = _WITNESSES,
    tries: int = _WITNESS_TRIES,
) -> list[Any]:
    """Up to ``limit`` distinct values of ``strategy`` that ``keep`` accepts, from a seeded,
    derandomized search (the same values every run). Never raises for an empty result."""
    found: list[Any] = []
    keys: set[str] = set()
    stale = [0]  # tries since the last new value: a small domain is soon exhausted

    def probe(value: Any) -> bool:
        stale[0] += 1
        if keep(value):
            key = value_key(value)
            if key not in keys:
                keys.add(key)
                found.append(value)
                stale[0] = 0
        return len(found) >= limit or (bool(found) and stale[0] >= _STALE)

    config = settings(
        max_examples=tries,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    try:
        find(strategy, probe, settings=config)
    except (NoSuchExample, Unsatisfiable):
        pass
    return found


def value_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def reads(router: Step) -> set[str]:
    """Flow variables (not outcome variables) a router's conditions read."""
    return _used(router) - OUTCOME_VARIABLES


def _used(router: Step) -> set[str]:
    """Every variable a router's conditions read (an unparsable one reads nothing)."""
    names: set[str] = set()
    for expression, _ in branches(router)[:-1]:
        try:
            names |= variables_used(expression or "")
        except ExpressionError:
            continue
    return names


def _pick(router: Step, variables: Mapping[str, Any]) -> int:
    """The branch the router takes (the default is ``len(conditions)``); -1 when a
    condition fails to evaluate (the platform fails the step: nothing gets through)."""
    scope = Scope(variables=variables, now_ms=lambda: 0)
    options = branches(router)
    for index, (expression, _) in enumerate(options[:-1]):
        try:
            if truthy(evaluate_condition(expression or "", scope)):
                return index
        except ExpressionError:
            return -1
    return len(options) - 1


def feasible(router: Step, index: int, known: Mapping[str, Any]) -> bool:
    """Whether ``router`` can take branch ``index`` on a way holding ``known`` constants."""
    read = reads(router)
    return can_take(router, index, {k: v for k, v in known.items() if k in read})


_CONTEXTS: dict[tuple[str, str], list[dict[str, Any]]] = {}
_TAKES: dict[tuple[str, int, str], bool] = {}


def can_take(router: Step, index: int, fixed: Mapping[str, Any]) -> bool:
    """Whether some context (the outcome before it, the variables not in ``fixed``) makes
    ``router`` take branch ``index``."""
    key = (value_key(router.config), index, value_key(fixed))
    if key not in _TAKES:
        if len(_TAKES) > 16384:
            _TAKES.clear()
        contexts = _contexts(router, set(fixed))
        _TAKES[key] = any(_pick(router, {**c, **fixed}) == index for c in contexts)
    return _TAKES[key]


def _contexts(router: Step, fixed: set[str]) -> list[dict[str, Any]]:
    key = (value_key(router.config), ",".join(sorted(fixed)))
    if key not in _CONTEXTS:
        if len(_CONTEXTS) > 4096:
            _CONTEXTS.clear()
        _CONTEXTS[key] = list(_build_contexts(router, fixed))
    return _CONTEXTS[key]


def _build_contexts(router: Step, fixed: set[str]) -> Iterator[dict[str, Any]]:
    used = _used(router)
    literals = literals_of(router)
    outcomes = list(_outcomes(literals)) if used & OUTCOME_VARIABLES else [{}]
    others = sorted(used - fixed - {"http_status_code", "http_outcome"})
    pools = [_candidates(_related(router, n), literals) for n in others]
    size = max((len(p) for p in pools), default=0)
    for combo in _diagonal(size, len(others), _MAX_OTHER_CONTEXTS):
        if all(i < len(p) for i, p in zip(combo, pools, strict=True)):
            chosen = {n: p[i] for n, p, i in zip(others, pools, combo, strict=True)}
            for outcome in outcomes:
                yield {**outcome, **chosen}


def _related(router: Step, name: str) -> list[Any]:
    """The literals a router compares ``name`` with (or passes beside it to a function)."""
    found: list[Any] = []
    for expression, _ in branches(router)[:-1]:
        stack = list(_trees(expression or ""))
        while stack:
            node = stack.pop()
            operands: tuple[Node, ...] = ()
            if isinstance(node, Binary):
                operands = (node.left, node.right)
            elif isinstance(node, Call):
                operands = node.args
                if node.name == "validateE164" and any(_mentions(a, name) for a in operands):
                    found.append(E164_HINT)
            if any(_mentions(o, name) for o in operands):
                found += [o.value for o in operands if isinstance(o, Literal)]
            stack.extend(children(node))
    return found


def _mentions(node: Node, name: str) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Var) and current.name == name:
            return True
        stack.extend(children(current))
    return False


def _diagonal(size: int, width: int, limit: int) -> Iterator[tuple[int, ...]]:
    """Up to ``limit`` index tuples into ``width`` lists of ``size``, smallest index sum
    first, so every variable gets its early candidates before any gets its late ones."""
    produced = 0
    for total in range(width * max(size - 1, 0) + 1):
        for combo in _compositions(total, width, size):
            yield combo
            produced += 1
            if produced >= limit:
                return


def _compositions(total: int, width: int, size: int) -> Iterator[tuple[int, ...]]:
    """Tuples of ``width`` indexes below ``size`` adding up to ``total``."""
    if width == 0:
        if total == 0:
            yield ()
        return
    for first in range(min(total, size - 1) + 1):
        for rest in _compositions(total - first, width - 1, size):
            yield (first, *rest)


def _outcomes(literals: list[Any]) -> Iterator[dict[str, Any]]:
    named = {int(v) for v in literals if _is_number(v) and 100 <= v <= 599 and int(v) == v}
    for status in sorted(set(_STATUSES) | named):
        yield {"http_status_code": status, "http_outcome": classify(status)}
    for outcome in _NO_RESPONSE:
        yield {"http_status_code": 0, "http_outcome": outcome}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _candidates(related: list[Any], literals: list[Any]) -> list[Any]:
    """Values another variable may hold when the router is evaluated: built from the
    literals compared with it, the usual suspects, then the router's other literals."""
    found: list[Any] = []
    for value in [*related, None, "", True, False, 0, 1, *literals]:
        found += _around(value)
    unique = list({value_key(v): v for v in found}.values())
    return unique[:_MAX_CANDIDATES]


def _around(value: Any) -> list[Any]:
    """A literal and the values next to it (a number's neighbours, a length's digits, a
    regex's own strings)."""
    if isinstance(value, E164Hint):
        return ["+14155552671"]
    if _is_number(value):
        near = [value, value - 1, value + 1, str(value)]
        if 0 < value <= MAX_HINT_LENGTH and int(value) == value:
            near.append("1" * int(value))
        return near
    if isinstance(value, str):
        pattern = as_pattern(value)
        built = collect(st.from_regex(pattern, fullmatch=True), bool, limit=2) if pattern else []
        return [value, *built]
    return [value]


def literals_of(router: Step) -> list[Any]:
    """The literals a router's conditions compare with (a marker for ``validateE164``)."""
    literals: list[Any] = []
    for expression, _ in branches(router)[:-1]:
        stack = list(_trees(expression or ""))
        while stack:
            node = stack.pop()
            if isinstance(node, Literal):
                literals.append(node.value)
            elif isinstance(node, Call) and node.name == "validateE164":
                literals.append(E164_HINT)
            stack.extend(children(node))
    return literals


def _trees(expression: str) -> Iterator[Node]:
    """The syntax trees of a condition: its ``{{ }}`` placeholders' and the text around
    them (each placeholder read as ``null``); none for text that does not parse."""
    found = placeholders(expression)
    outer, pos = [], 0
    for placeholder in found:
        outer.append(expression[pos : placeholder.start] + "null")
        pos = placeholder.end
        try:
            yield parse(placeholder.expr)
        except ExpressionError:
            continue
    try:
        yield parse("".join(outer) + expression[pos:])
    except ExpressionError:
        return


class E164Hint:
    """Marker literal: the router calls validateE164."""


E164_HINT = E164Hint()


def as_pattern(text: str) -> re.Pattern[str] | None:
    """A literal that looks like a regular expression, compiled as ``matches`` reads it
    (ASCII classes), else None."""
    if not any(c in text for c in "^$[]\\+*?{}"):
        return None
    try:
        return re.compile(text, re.ASCII)
    except re.error:
        return None
