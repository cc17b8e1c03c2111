"""Load statistics that merge exactly: HDR histograms and time-bucketed levels.

A load run records each call's dead air, its wait for a flow-execution slot and
every integration step's duration into HDR histograms (HdrHistogram, 3
significant figures: a percentile is within 0.1 % of the exact value). Two
shards' histograms add count by count, so percentiles of a distributed run are
those of one run that saw every call. Slot occupancy and queue length are kept
as time integrals per one-second bucket, which also add exactly across shards.

Everything crosses a process boundary as plain JSON (`to_wire` / `from_wire`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

__all__ = ["Histogram", "Level", "LoadHistograms"]

_LOWEST_US = 1
_HIGHEST_US = 3_600_000_000  # one hour: longer than any call, wait or step
_FIGURES = 3


class Histogram:
    """Milliseconds recorded at microsecond resolution into one HDR histogram."""

    __slots__ = ("_h",)

    def __init__(self, hdr: HdrHistogram | None = None) -> None:
        self._h = hdr or HdrHistogram(_LOWEST_US, _HIGHEST_US, _FIGURES)

    def record(self, ms: float) -> None:
        """Add one value; values past the range are clamped to it, never lost."""
        self._h.record_value(min(max(round(ms * 1000), _LOWEST_US), _HIGHEST_US))

    @property
    def count(self) -> int:
        return int(self._h.get_total_count())

    def percentile(self, q: float) -> float:
        """The value at percentile q (0..100) in ms; 0 for an empty histogram."""
        if not self.count:
            return 0.0
        return float(self._h.get_value_at_percentile(q)) / 1000

    def max(self) -> float:
        return float(self._h.get_max_value()) / 1000 if self.count else 0.0

    def merge(self, other: Histogram) -> None:
        """Add every count of `other` to this histogram."""
        self._h.add(other._h)

    def to_wire(self) -> str:
        """The compressed, base64 HdrHistogram encoding (the interchange format)."""
        return str(self._h.encode().decode("ascii"))

    @classmethod
    def from_wire(cls, text: str) -> Histogram:
        return cls(HdrHistogram.decode(text.encode("ascii")))

    def summary(self) -> dict[str, float]:
        """count, p50, p95, p99 and max, rounded to 0.1 ms."""
        return {
            "count": self.count,
            **{f"p{q}": round(self.percentile(q), 1) for q in (50, 95, 99)},
            "max": round(self.max(), 1),
        }


@dataclass
class Level:
    """A quantity that rises and falls over a run (busy slots, queued callers).

    `integral[b]` is the level integrated over second b of the run (level x
    seconds), so the mean level in a second is the integral itself, and two
    shards' levels add bucket by bucket.
    """

    integral: dict[int, float] = field(default_factory=dict)
    level: int = 0
    peak: int = 0
    _since: float = 0.0

    def change(self, now_s: float, delta: int) -> None:
        """The level moves by `delta` at `now_s` seconds into the run."""
        self._accrue(now_s)
        self.level += delta
        self.peak = max(self.peak, self.level)

    def close(self, now_s: float) -> None:
        """Account for the time up to the end of the run."""
        self._accrue(now_s)

    def _accrue(self, now_s: float) -> None:
        t = self._since
        while t < now_s:
            bucket = int(t)
            end = min(now_s, bucket + 1.0)
            if self.level:
                self.integral[bucket] = self.integral.get(bucket, 0.0) + self.level * (end - t)
            t = end
        self._since = max(self._since, now_s)

    def merge(self, other: Level) -> None:
        for bucket, value in other.integral.items():
            self.integral[bucket] = self.integral.get(bucket, 0.0) + value
        self.peak += other.peak  # an upper bound: the shards' peaks need not coincide

    def series(self) -> list[float]:
        """Mean level in each second of the run, from second 0."""
        if not self.integral:
            return []
        return [round(self.integral.get(b, 0.0), 2) for b in range(max(self.integral) + 1)]

    def to_wire(self) -> dict[str, Any]:
        return {"integral": {str(k): v for k, v in self.integral.items()}, "peak": self.peak}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Level:
        integral = {int(k): float(v) for k, v in data["integral"].items()}
        return cls(integral=integral, peak=int(data["peak"]))


@dataclass
class LoadHistograms:
    """Every mergeable measurement of a load run (or of one shard of it)."""

    dead_air: Histogram = field(default_factory=Histogram)
    queue_wait: Histogram = field(default_factory=Histogram)
    steps: dict[str, Histogram] = field(default_factory=dict)
    loop_lag: Histogram = field(default_factory=Histogram)
    busy_slots: Level = field(default_factory=Level)
    queued: Level = field(default_factory=Level)

    def record_step(self, step_id: str, ms: float) -> None:
        self._step(step_id).record(ms)

    def _step(self, step_id: str) -> Histogram:
        # not setdefault: a new HdrHistogram per call was a twentieth of a load run's CPU
        hist = self.steps.get(step_id)
        if hist is None:
            hist = self.steps[step_id] = Histogram()
        return hist

    def merge(self, other: LoadHistograms) -> None:
        """Add `other` into this one, exactly."""
        self.dead_air.merge(other.dead_air)
        self.queue_wait.merge(other.queue_wait)
        self.loop_lag.merge(other.loop_lag)
        for step, hist in other.steps.items():
            self._step(step).merge(hist)
        self.busy_slots.merge(other.busy_slots)
        self.queued.merge(other.queued)

    @classmethod
    def merged(cls, parts: Iterable[LoadHistograms]) -> LoadHistograms:
        total = cls()
        for part in parts:
            total.merge(part)
        return total

    def to_wire(self) -> dict[str, Any]:
        return {
            "dead_air": self.dead_air.to_wire(),
            "queue_wait": self.queue_wait.to_wire(),
            "loop_lag": self.loop_lag.to_wire(),
            "steps": {k: v.to_wire() for k, v in self.steps.items()},
            "busy_slots": self.busy_slots.to_wire(),
            "queued": self.queued.to_wire(),
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> LoadHistograms:
        return cls(
            dead_air=Histogram.from_wire(data["dead_air"]),
            queue_wait=Histogram.from_wire(data["queue_wait"]),
            loop_lag=Histogram.from_wire(data["loop_lag"]),
            steps={k: Histogram.from_wire(v) for k, v in data["steps"].items()},
            busy_slots=Level.from_wire(data["busy_slots"]),
            queued=Level.from_wire(data["queued"]),
        )
