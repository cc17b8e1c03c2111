"""Load statistics of a scenario run: what an SRE reads after a load test.

Dropped calls (no flow slot in time), dead-air percentiles, the fallback rate
(calls whose integration step did not succeed) and each integration step's p95.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.executor.timeline import CallResult
from harness.flow.outcomes import SUCCESSFUL

__all__ = ["LoadStats", "load_stats", "percentile"]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadStats:
    calls: int
    dropped: int
    fallback: int
    outcomes: dict[str, int]
    dead_air_p50_ms: float
    dead_air_p95_ms: float
    dead_air_p99_ms: float
    step_p95_ms: dict[str, float] = field(default_factory=dict)
    calls_per_second: float = 0.0

    @property
    def fallback_rate(self) -> float:
        answered = self.calls - self.dropped
        return self.fallback / answered if answered else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "dropped": self.dropped,
            "fallback": self.fallback,
            "fallback_rate": round(self.fallback_rate, 4),
            "outcomes": self.outcomes,
            "dead_air_ms": {
                "p50": round(self.dead_air_p50_ms, 1),
                "p95": round(self.dead_air_p95_ms, 1),
                "p99": round(self.dead_air_p99_ms, 1),
            },
            "integration_step_p95_ms": {k: round(v, 1) for k, v in self.step_p95_ms.items()},
            "calls_per_second": round(self.calls_per_second, 2),
        }


def load_stats(calls: Sequence[CallResult], wall_s: float) -> LoadStats:
    answered = [c for c in calls if c.outcome != "dropped"]
    silences = [c.max_dead_air_ms for c in answered]
    durations: dict[str, list[float]] = {}
    fallback = 0
    for call in answered:
        http = [s for s in call.segments if s.step_type == "HTTPRequest"]
        if any(s.detail.get("outcome") not in SUCCESSFUL for s in http):
            fallback += 1
        for seg in http:
            durations.setdefault(seg.step_id, []).append(seg.duration_ms)
    outcomes: dict[str, int] = {}
    for call in calls:
        outcomes[call.outcome] = outcomes.get(call.outcome, 0) + 1
    return LoadStats(
        calls=len(calls),
        dropped=len(calls) - len(answered),
        fallback=fallback,
        outcomes=outcomes,
        dead_air_p50_ms=percentile(silences, 50),
        dead_air_p95_ms=percentile(silences, 95),
        dead_air_p99_ms=percentile(silences, 99),
        step_p95_ms={k: percentile(v, 95) for k, v in sorted(durations.items())},
        calls_per_second=len(calls) / wall_s if wall_s > 0 else 0.0,
    )
