"""When a load run's callers arrive: a fixed rate or a seeded Poisson process, with a ramp.

The rate climbs linearly from 0 to `rate` over `ramp_s` and holds there until
`duration_s`; arrivals stop at the duration or after `max_calls`, whichever
comes first. Arrival i of a plan is the same instant in every process, so a
sharded run (shard k of n takes arrivals k, k+n, k+2n, ...) sees exactly the
callers an in-process run of the same seed sees.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from harness.errors import ConfigError

__all__ = ["ARRIVALS", "LoadPlan", "arrival_times"]

ARRIVALS = ("fixed", "poisson")
_HARD_CAP = 5_000_000  # arrivals in one plan: past this, the input is a mistake


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadPlan:
    """A load run's shape: arrivals (flow-time seconds), slots and caller patience."""

    arrival: str = "fixed"
    rate: float = 0.0  # arrivals per second of flow time at full rate; 0: all at once
    ramp_s: float = 0.0
    duration_s: float | None = None
    max_calls: int | None = None
    slots: int = 1
    patience_ms: int | None = None  # a caller waits this long for a slot, then hangs up
    seed: int = 0

    def check(self) -> None:
        """A ConfigError naming the option when the plan cannot run."""
        for option, value in (
            ("--rate", self.rate),
            ("--ramp", self.ramp_s),
            ("--duration", self.duration_s or 0.0),
        ):
            if not math.isfinite(value):
                raise ConfigError(f"{value} is not a number of seconds or arrivals", file=option)
        if self.arrival not in ARRIVALS:
            raise ConfigError(f"unknown arrival process {self.arrival!r}", file="--arrival")
        if self.rate <= 0 and (self.ramp_s or self.arrival == "poisson"):
            raise ConfigError("a ramp or Poisson arrivals need a rate", file="--rate")
        if self.max_calls is None and (self.duration_s is None or self.rate <= 0):
            raise ConfigError("the run would never end", file="--duration", hint="give --callers")
        if self.slots < 1:
            raise ConfigError("at least one flow-execution slot", file="--slots")
        if len_bound(self) > _HARD_CAP:
            raise ConfigError(f"more than {_HARD_CAP:,} arrivals", file="--duration")


def len_bound(plan: LoadPlan) -> float:
    """An upper bound on the number of arrivals."""
    by_time = plan.rate * (plan.duration_s or 0) * 1.5 + 100 if plan.duration_s else math.inf
    return min(plan.max_calls if plan.max_calls is not None else math.inf, by_time)


def _at(plan: LoadPlan, x: float) -> float:
    """The instant by which `x` arrivals are expected (the inverse of the cumulative rate)."""
    half = plan.rate * plan.ramp_s / 2
    if plan.ramp_s and x <= half:
        return math.sqrt(2 * plan.ramp_s * x / plan.rate)
    return plan.ramp_s + (x - half) / plan.rate


def arrival_times(plan: LoadPlan) -> list[float]:
    """Seconds of flow time from the start of the run at which each caller arrives."""
    plan.check()
    limit = plan.max_calls if plan.max_calls is not None else _HARD_CAP
    if plan.rate <= 0:
        return [0.0] * limit
    rng = random.Random(plan.seed)
    times: list[float] = []
    x = 0.0
    while len(times) < limit:
        t = _at(plan, x)
        if plan.duration_s is not None and t >= plan.duration_s:
            break
        times.append(t)
        x += rng.expovariate(1.0) if plan.arrival == "poisson" else 1.0
    return times
