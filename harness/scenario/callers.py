"""Simulated callers of a scenario: fixed, per caller, or drawn with a seed."""

from __future__ import annotations

import random

from hypothesis import strategies as st

from harness.executor.timeline import Caller
from harness.scenario.model import Callers

__all__ = ["build_callers", "dtmf_strings", "phone_numbers"]

_PHONE_FORMATS = (
    "+1 {a} {b} {c}",
    "({a}) {b}-{c}",
    "{a}.{b}.{c}",
    "1{a}{b}{c}",
    "{a}-{b}-{c}",
    "+1{a}{b}{c}",
)


def dtmf_strings() -> st.SearchStrategy[str]:
    """What a caller can key: digits, star and hash, possibly nothing."""
    return st.text(alphabet="0123456789*#", max_size=20)


def phone_numbers() -> st.SearchStrategy[str]:
    """North American numbers in the formats callers and CRMs write them."""
    area = st.integers(200, 999).map(str)
    exchange = st.integers(200, 999).map(str)
    line = st.integers(0, 9999).map(lambda n: f"{n:04d}")
    return st.builds(
        lambda fmt, a, b, c: fmt.format(a=a, b=b, c=c),
        st.sampled_from(_PHONE_FORMATS),
        area,
        exchange,
        line,
    )


def _draw(strategy: str, rng: random.Random) -> str:
    # A seeded draw of the same shapes the Hypothesis strategies produce; Hypothesis
    # itself only draws inside a test, and a scenario run is not one.
    a, b, c = rng.randint(200, 999), rng.randint(200, 999), rng.randint(0, 9999)
    if strategy == "phone":
        return rng.choice(_PHONE_FORMATS).format(a=a, b=b, c=f"{c:04d}")
    return f"{a}{b}{c:04d}#"


def build_callers(spec: Callers, prefix: str = "call") -> list[Caller]:
    """The scenario's callers, numbered call-1, call-2, ... in arrival order."""
    rng = random.Random(spec.draw.get("seed", 0)) if spec.draw else None
    callers = []
    for i in range(spec.count):
        ani, dtmf = spec.ani, spec.dtmf
        if spec.per_caller:
            entry = spec.per_caller[i % len(spec.per_caller)]
            ani = entry.get("ani", ani)
            dtmf = tuple(entry.get("dtmf", dtmf))
        if rng is not None and spec.draw:
            value = _draw(spec.draw["strategy"], rng)
            dtmf = (value,) if spec.draw["strategy"] == "dtmf" else dtmf
            ani = value if spec.draw["strategy"] == "phone" else ani
        callers.append(Caller(ani=ani, dtmf=tuple(dtmf), call_id=f"{prefix}-{i + 1}"))
    return callers
