"""The values expectations produce: a :class:`Check` per expectation, and what they read.

A check that missed an upper bound only by less than the harness's own
measured scheduling lag is `inconclusive` (see :mod:`harness.scenario.lag`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.backends.faults import RecordedRequest
from harness.events import Event
from harness.executor.timeline import CallResult
from harness.flow.model import FlowSet
from harness.flow.profile import PlatformProfile
from harness.scenario.lag import NO_LAG, RunLag

__all__ = ["Check", "Late", "RunFacts", "noise_allowance"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Late:
    """An upper bound missed by `over_ms`, measured over [start_ms, end_ms] of flow time."""

    why: str
    over_ms: float
    start_ms: float
    end_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    title: str
    passed: bool
    expected: str
    actual: str
    known_defect: bool = False
    # Missed only by less than the harness's own measured lag: neither held nor failed.
    inconclusive: bool = False
    lag_ms: float = 0.0  # flow ms of stall measured in the windows of the calls it missed on

    @property
    def failed(self) -> bool:
        """Failed for real: not held, and not explained by the harness's own overload."""
        return not self.passed and not self.inconclusive

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "passed": self.passed,
            "expected": self.expected,
            "actual": self.actual,
            "known_defect": self.known_defect,
            "inconclusive": self.inconclusive,
            "lag_ms": round(self.lag_ms, 1),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFacts:
    """What a run produced, as the expectations need it."""

    calls: Sequence[CallResult]
    events: Sequence[Event]
    flows: FlowSet
    profile: PlatformProfile
    requests: Mapping[str, Sequence[RecordedRequest]]  # backend or host -> its journal
    dead_air_budget_ms: int = 8000
    lag: RunLag = NO_LAG  # the harness's own scheduling lag during the run
    # Titles of this flow set's known defects: a starved timeout never excuses their failure.
    known_defects: frozenset[str] = frozenset()


def noise_allowance(bound_ms: float) -> float:
    """Room for a noisy machine on an upper bound: 10 % of it, at least 100 ms."""
    return max(100.0, 0.1 * bound_ms)
