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

import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from harness.contract.paths import Decision, arrivals, known_values
from harness.contract.routers import (
    MAX_HINT_LENGTH,
    E164Hint,
    as_pattern,
    can_take,
    collect,
    feasible,
    literals_of,
    reads,
    value_key,
)
from harness.flow.model import Flow, FlowSet, Step

__all__ = ["Guard", "guards_for_step"]


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
    names = {n for owner in flows for s in owner.steps if s.type == "Condition" for n in reads(s)}
    names = names if only is None else names & set(only)
    shared = {} if shared is None else shared
    guards: dict[str, Guard] = {}
    for name in sorted(names):
        ways = arrivals(flows, name, (flow.id, http.id), reads, feasible)
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
        return can_take(router, decision[2], known)

    def admits(value: Any) -> bool:
        key = value_key(value)
        if key not in memo:
            memo[key] = any(all(takes(d, value) for d in way) for way in minimal)
        return memo[key]

    used = sorted({d[1] for d in decisions})
    steps = [r for _, r in sorted(routers.items(), key=lambda item: item[0][:3]) if r]
    literals = [lit for router in steps for lit in literals_of(router)]
    made_of = [name, sorted(sorted(way) for way in minimal), [s.config for s in steps]]
    return Guard(
        variable=name,
        routers=tuple(used),
        admits=admits,
        hints=tuple(_hint_strategies(literals)),
        key=value_key(made_of),
    )


def _step(flows: FlowSet, decision: Decision) -> Step | None:
    flow = flows.get(decision[0])
    return flow.step(decision[1]) if flow is not None else None


def _hint_strategies(literals: list[Any]) -> Iterator[st.SearchStrategy[Any]]:
    for value in literals:
        if isinstance(value, E164Hint):
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
            pattern = as_pattern(value)
            if pattern is not None:
                yield st.from_regex(pattern, fullmatch=True)


def _number_hints(value: float) -> Iterator[st.SearchStrategy[Any]]:
    number = int(value)
    if 0 <= number <= MAX_HINT_LENGTH:  # maybe a length: digits of about that length
        for size in {max(number - 1, 0), number, number + 1}:
            yield st.text(alphabet=string.digits, min_size=size, max_size=size)
    yield st.integers(min_value=number - 1, max_value=number + 1).map(str)
    yield st.integers(min_value=number - 1, max_value=number + 1)
