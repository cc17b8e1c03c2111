"""The harness's own saturation during a load run, measured beside the flow's numbers.

The suite's :class:`~harness.scenario.lag.LagMonitor` wakes every `interval_s`
and records how late it woke: the event loop's lag. On a loop that keeps up the
lag is a millisecond or two; when the machine or the loop is saturated every
timer fires late, and the callers' dead air grows by the same amount. A load
run's :class:`SaturationMonitor` is that monitor keeping every lateness in a
histogram, and reporting, next to the results, the process's CPU time, its
resident memory and how much of a core its loop wanted, so that growth is read
as the harness's, never as the flow's.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from dataclasses import dataclass, field
from typing import Any, Self

from harness.scenario.collector import GcPauses
from harness.scenario.histograms import Histogram
from harness.scenario.lag import LagMonitor

__all__ = ["DEMAND_LIMIT", "LAG_LIMIT_MS", "Saturation", "SaturationMonitor", "rss_bytes"]

# Past this loop lag at p99 a run's dead air is the harness's as much as the flow's.
LAG_LIMIT_MS = 50.0
# Past this share of a core wanted by the loop's thread, the harness is its own bottleneck.
DEMAND_LIMIT = 0.9


def _schedstat() -> tuple[float, float] | None:
    """Seconds this thread ran and waited runnable for a CPU (Linux), else None."""
    try:
        with open("/proc/thread-self/schedstat", encoding="ascii") as fh:
            ran, waited = fh.read().split()[:2]
    except (OSError, ValueError):
        return None
    return int(ran) / 1e9, int(waited) / 1e9


def rss_bytes() -> int:
    """Resident memory of this process now (Linux), else its peak so far."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass(kw_only=True)
class Saturation:
    """What the harness spent running a load (or one shard of it)."""

    loop_lag: Histogram = field(default_factory=Histogram)
    demand: list[float] = field(default_factory=list)  # per second: (ran + waited) / wall
    cpu_s: float = 0.0
    rss_start: int = 0
    rss_peak: int = 0
    gc_pauses: GcPauses = field(default_factory=GcPauses)

    def to_json(self, calls: int, peak_callers: int) -> dict[str, Any]:
        lag = self.loop_lag.summary()
        grown = max(0, self.rss_peak - self.rss_start)
        demand = sorted(self.demand)
        busy = demand[len(demand) // 2] if demand else 0.0
        return {
            "loop_lag_ms": lag,
            # The loop's thread wanted a whole core (ran or waited runnable) for most of
            # the run: work queues up inside the harness though each timer is only a
            # little late, so lag alone does not show it.
            "loop_demand_p50": round(busy, 2),
            "saturated": lag["p99"] > LAG_LIMIT_MS or busy > DEMAND_LIMIT,
            "lag_limit_ms": LAG_LIMIT_MS,
            # the collector's own stops of the loop (full collections wait for the end)
            "gc_pause_ms": self.gc_pauses.to_json(),
            "cpu_s": round(self.cpu_s, 3),
            "cpu_ms_per_call": round(self.cpu_s * 1000 / calls, 3) if calls else 0.0,
            "rss_peak_mb": round(self.rss_peak / 2**20, 1),
            "memory_kb_per_caller": round(grown / 1024 / peak_callers, 1) if peak_callers else 0.0,
        }


class SaturationMonitor(LagMonitor):
    """The loop's lag, CPU, memory and demand while it is entered (`async with`)."""

    def __init__(self, interval_s: float = 0.05) -> None:
        super().__init__(interval_s=interval_s)
        self.result = Saturation()
        self._cpu0 = 0.0
        self._mark = 0.0
        self._stat: tuple[float, float] | None = None

    async def __aenter__(self) -> Self:
        self._cpu0 = time.process_time()
        self.result.rss_start = self.result.rss_peak = rss_bytes()
        self._mark, self._stat = time.monotonic(), _schedstat()
        return await super().__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        await super().__aexit__(*exc)
        self.result.cpu_s = time.process_time() - self._cpu0
        self.result.rss_peak = max(self.result.rss_peak, rss_bytes())

    def record(self, due: float, woke: float) -> None:
        super().record(due, woke)
        self.result.loop_lag.record(max(0.0, woke - due) * 1000)
        if self.samples % round(1 / self.interval_s) == 0:  # about once a second
            self.result.rss_peak = max(self.result.rss_peak, rss_bytes())
            latest = _schedstat()
            if self._stat is not None and latest is not None and woke > self._mark:
                wanted = latest[0] - self._stat[0] + latest[1] - self._stat[1]
                self.result.demand.append(wanted / (woke - self._mark))
            self._mark, self._stat = woke, latest
