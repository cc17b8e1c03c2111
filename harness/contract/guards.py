"""Guards the way flows write them: router conditions that bound a variable before a step.

:func:`harness.contract.paths.arrivals` finds, for a variable and an HTTP step, every way a
value of the variable travels from where it is set to the step and the router decisions
taken on each way. A value *gets through* when, on some way, every router that reads the
variable can take the branch that way takes with that value -- evaluated by the expression
engine, so exactly as the platform would; no second, hand-written reading of conditions.

Whatever else a router reads is left open, as the call would leave it: the outcome of the
HTTP step before it (every outcome class, with the statuses the router names), and other
variables (the router's own literals, null, '', booleans, digit strings of the lengths it
compares with). So ``http_outcome == 'success' && slot_id != null`` lets every non-null
``slot_id`` through, and ``matches(pin, '^[0-9]{4}$') && lang == 'en'`` narrows both
``pin`` and ``lang``. A re-prompt loop keeps its guard (the loop back sets the variable
again, which ends that value's way).

Narrowing builds values rather than rejecting them: the literals a guard compares with
(lengths, regexes via ``from_regex``, bounds, members, E.164) and the variable's own domain
are searched once for values the guard lets through (*witnesses*); a drawn value the guard
would stop is replaced by a witness. No filter, so no search can end ``Unsatisfiable``.
A guard with no witness at all blocks the step for every value the checker can build; the
consumer check reports that instead of checking the step.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample, Unsatisfiable

from harness.contract.paths import Decision, arrivals, branches, known_values
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
from harness.flow.model import Flow, FlowSet, Step
from harness.flow.outcomes import OUTCOME_VARIABLES, classify

__all__ = ["Guard", "collect", "guards_for_step"]

_MAX_HINT_LENGTH = 64
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
            key = _key(value)
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


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


@dataclass(frozen=True, slots=True, kw_only=True)
class Guard:
    """Values of ``variable`` that can reach a step, as decided by ``routers``."""

    variable: str
    routers: tuple[str, ...]
    admits: Callable[[Any], bool] = field(compare=False, repr=False)
    hints: tuple[st.SearchStrategy[Any], ...] = field(default=(), compare=False, repr=False)
    # What the guard is made of (its ways and routers), so equal guards share witnesses.
    key: str = field(default="", compare=False, repr=False)

    def witnesses(
        self, base: st.SearchStrategy[Any], fits: Callable[[Any], bool] | None = None
    ) -> tuple[Any, ...]:
        """Values of ``base`` or built from the guard's literals (kept inside ``fits``: a
        hint must not invent a 9-key order number when the caller can press only 8) that
        the guard lets through. Searched once per guard and domain, and kept."""
        # A domain test that is a value (values.py's) names the domain; a bare callable
        # only within this guard's life.
        fitting = fits if fits is None or _hashable(fits) else id(fits)
        key = (self.key or str(id(self)), repr(base), fitting)
        if key not in _FOUND:
            if len(_FOUND) > 512:
                _FOUND.clear()
            keep = self.admits if fits is None else (lambda v: fits(v) and self.admits(v))
            _FOUND[key] = tuple(collect(st.one_of(base, *self.hints), keep))
        return _FOUND[key]

    def narrow(
        self, base: st.SearchStrategy[Any], fits: Callable[[Any], bool] | None = None
    ) -> st.SearchStrategy[Any]:
        """``base`` where every value the guard stops is replaced by one it lets through
        (``base`` unchanged when there is none: see :meth:`blocks`)."""
        pool = self.witnesses(base, fits)
        if not pool:
            return base
        through = st.sampled_from(pool)
        admits = self.admits

        @st.composite
        def narrowed(draw: st.DrawFn) -> Any:
            value = draw(st.one_of(base, through))
            return value if admits(value) else draw(through)

        return narrowed()

    def blocks(self, base: st.SearchStrategy[Any], fits: Callable[[Any], bool] | None) -> bool:
        """Whether no value the checker can build gets through."""
        return not self.witnesses(base, fits)

    def describe(self) -> str:
        return f"guarded by {', '.join(self.routers)}"


_FOUND: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return not callable(getattr(value, "__code__", None))  # a lambda hashes by identity


def guards_for_step(
    flows: FlowSet,
    flow: Flow,
    http: Step,
    shared: dict[Any, Guard] | None = None,
    *,
    only: Iterable[str] | None = None,
) -> dict[str, Guard]:
    """The guard of every variable (of ``only``, when given) some router bounds on every
    way to ``http``.

    ``shared`` (one dict for all steps of a flow set) hands the same guard to every step
    it guards, so its witnesses are searched once.
    """
    names = {n for owner in flows for s in owner.steps if s.type == "Condition" for n in _reads(s)}
    names = names if only is None else names & set(only)
    shared = {} if shared is None else shared
    guards: dict[str, Guard] = {}
    for name in sorted(names):
        ways = arrivals(flows, name, (flow.id, http.id), _reads, _feasible)
        if not ways or frozenset() in ways:
            continue  # unreachable, unguarded on some way, or too many ways to walk
        key = (name, frozenset(ways))
        if key not in shared:
            shared[key] = _guard(flows, name, ways)
        guards[name] = shared[key]
    return guards


def _guard(flows: FlowSet, name: str, ways: set[frozenset[Decision]]) -> Guard:
    minimal = [w for w in ways if not any(o < w for o in ways)]
    decisions = {d for way in minimal for d in way}
    routers = {d: _step(flows, d) for d in decisions}
    memo: dict[str, bool] = {}

    def takes(decision: Decision, value: Any) -> bool:
        router = routers[decision]
        if router is None:
            return False
        known = {**known_values(decision[3]), name: value}
        return _can_take(router, decision[2], known)

    def admits(value: Any) -> bool:
        key = _key(value)
        if key not in memo:
            memo[key] = any(all(takes(d, value) for d in way) for way in minimal)
        return memo[key]

    used = sorted({d[1] for d in decisions})
    steps = [r for _, r in sorted(routers.items(), key=lambda item: item[0][:3]) if r]
    literals = [lit for router in steps for lit in _literals(router)]
    made_of = [name, sorted(sorted(way) for way in minimal), [s.config for s in steps]]
    return Guard(
        variable=name,
        routers=tuple(used),
        admits=admits,
        hints=tuple(_hint_strategies(literals)),
        key=_key(made_of),
    )


def _step(flows: FlowSet, decision: Decision) -> Step | None:
    flow = flows.get(decision[0])
    return flow.step(decision[1]) if flow is not None else None


def _reads(router: Step) -> set[str]:
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


def _feasible(router: Step, index: int, known: Mapping[str, Any]) -> bool:
    """Whether ``router`` can take branch ``index`` on a way holding ``known`` constants."""
    read = _reads(router)
    return _can_take(router, index, {k: v for k, v in known.items() if k in read})


_CONTEXTS: dict[tuple[str, str], list[dict[str, Any]]] = {}
_TAKES: dict[tuple[str, int, str], bool] = {}


def _can_take(router: Step, index: int, fixed: Mapping[str, Any]) -> bool:
    """Whether some context (the outcome before it, the variables not in ``fixed``) makes
    ``router`` take branch ``index``."""
    key = (_key(router.config), index, _key(fixed))
    if key not in _TAKES:
        if len(_TAKES) > 16384:
            _TAKES.clear()
        contexts = _contexts(router, set(fixed))
        _TAKES[key] = any(_pick(router, {**c, **fixed}) == index for c in contexts)
    return _TAKES[key]


def _contexts(router: Step, fixed: set[str]) -> list[dict[str, Any]]:
    key = (_key(router.config), ",".join(sorted(fixed)))
    if key not in _CONTEXTS:
        if len(_CONTEXTS) > 4096:
            _CONTEXTS.clear()
        _CONTEXTS[key] = list(_build_contexts(router, fixed))
    return _CONTEXTS[key]


def _build_contexts(router: Step, fixed: set[str]) -> Iterator[dict[str, Any]]:
    used = _used(router)
    literals = _literals(router)
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
                    found.append(_E164_HINT)
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
    unique = list({_key(v): v for v in found}.values())
    return unique[:_MAX_CANDIDATES]


def _around(value: Any) -> list[Any]:
    """A literal and the values next to it (a number's neighbours, a length's digits, a
    regex's own strings)."""
    if isinstance(value, _E164Hint):
        return ["+14155552671"]
    if _is_number(value):
        near = [value, value - 1, value + 1, str(value)]
        if 0 < value <= _MAX_HINT_LENGTH and int(value) == value:
            near.append("1" * int(value))
        return near
    if isinstance(value, str):
        pattern = _pattern(value)
        built = collect(st.from_regex(pattern, fullmatch=True), bool, limit=2) if pattern else []
        return [value, *built]
    return [value]


def _literals(router: Step) -> list[Any]:
    """The literals a router's conditions compare with (a marker for ``validateE164``)."""
    literals: list[Any] = []
    for expression, _ in branches(router)[:-1]:
        stack = list(_trees(expression or ""))
        while stack:
            node = stack.pop()
            if isinstance(node, Literal):
                literals.append(node.value)
            elif isinstance(node, Call) and node.name == "validateE164":
                literals.append(_E164_HINT)
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
    yield st.integers(min_value=number - 1, max_value=number + 1)


def _pattern(text: str) -> re.Pattern[str] | None:
    """A literal that looks like a regular expression, compiled as ``matches`` reads it
    (ASCII classes), else None."""
    if not any(c in text for c in "^$[]\\+*?{}"):
        return None
    try:
        return re.compile(text, re.ASCII)
    except re.error:
        return None
