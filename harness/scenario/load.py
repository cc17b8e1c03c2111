"""Load statistics of a scenario run: what an SRE reads after a load test.

Dropped calls (no flow slot in time), dead-air percentiles, the fallback rate
(calls whose integration step did not succeed), each integration step's
percentiles, the wait for a slot, and slot occupancy / queue length over time.
The percentiles come from HDR histograms (`histograms.py`), so the statistics of
shards merge exactly into those of the whole run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.executor.timeline import CallResult
from harness.flow.outcomes import SUCCESSFUL
from harness.scenario.histograms import LoadHistograms

__all__ = ["LoadCounts", "LoadStats", "load_stats", "percentile", "record_call", "stats_from"]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LoadCounts:
    """The countable results of a run or shard; counts of shards add."""

    calls: int = 0
    dropped: int = 0
    fallback: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, other: LoadCounts) -> None:
        self.calls += other.calls
        self.dropped += other.dropped
        self.fallback += other.fallback
        for outcome, n in other.outcomes.items():
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n

    def to_wire(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "dropped": self.dropped,
            "fallback": self.fallback,
            "outcomes": dict(self.outcomes),
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> LoadCounts:
        return cls(
            calls=int(data["calls"]),
            dropped=int(data["dropped"]),
            fallback=int(data["fallback"]),
            outcomes={str(k): int(v) for k, v in data["outcomes"].items()},
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadStats:
    """The report of a load run; `to_json` is what `ivr-harness load --json` prints."""

    calls: int
    dropped: int
    fallback: int
    outcomes: dict[str, int]
    dead_air_p50_ms: float
    dead_air_p95_ms: float
    dead_air_p99_ms: float
    step_p95_ms: dict[str, float] = field(default_factory=dict)
    calls_per_second: float = 0.0
    histograms: LoadHistograms | None = None

    @property
    def fallback_rate(self) -> float:
        answered = self.calls - self.dropped
        return self.fallback / answered if answered else 0.0

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
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
        h = self.histograms
        if h is not None:
            body["integration_step_ms"] = {k: v.summary() for k, v in sorted(h.steps.items())}
            body["queue_wait_ms"] = h.queue_wait.summary()
            body["slots_busy"] = {"peak": h.busy_slots.peak, "per_second": h.busy_slots.series()}
            body["queue_length"] = {"peak": h.queued.peak, "per_second": h.queued.series()}
        return body


def record_call(histograms: LoadHistograms, counts: LoadCounts, call: CallResult) -> None:
    """Add one finished (or dropped) call to the histograms and counts."""
    counts.calls += 1
    counts.outcomes[call.outcome] = counts.outcomes.get(call.outcome, 0) + 1
    if call.outcome == "dropped":
        counts.dropped += 1
        return
    histograms.dead_air.record(call.max_dead_air_ms)
    failed = False
    for seg in call.segments:
        if seg.step_type == "HTTPRequest":
            histograms.record_step(seg.step_id, seg.duration_ms)
            failed = failed or seg.detail.get("outcome") not in SUCCESSFUL
    counts.fallback += failed


def stats_from(histograms: LoadHistograms, counts: LoadCounts, wall_s: float) -> LoadStats:
    """The statistics of (possibly merged) histograms and counts."""
    dead_air = histograms.dead_air
    return LoadStats(
        calls=counts.calls,
        dropped=counts.dropped,
        fallback=counts.fallback,
        outcomes=dict(counts.outcomes),
        dead_air_p50_ms=dead_air.percentile(50),
        dead_air_p95_ms=dead_air.percentile(95),
        dead_air_p99_ms=dead_air.percentile(99),
        step_p95_ms={k: v.percentile(95) for k, v in sorted(histograms.steps.items())},
        calls_per_second=counts.calls / wall_s if wall_s > 0 else 0.0,
        histograms=histograms,
    )


def load_stats(
    calls: Iterable[CallResult], wall_s: float, histograms: LoadHistograms | None = None
) -> LoadStats:
    """The statistics of a run's calls (recorded into `histograms` when given)."""
    histograms = histograms if histograms is not None else LoadHistograms()
    counts = LoadCounts()
    for call in calls:
        record_call(histograms, counts, call)
    return stats_from(histograms, counts, wall_s)
