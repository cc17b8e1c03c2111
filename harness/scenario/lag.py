"""The harness watching its own scheduling lag, so overload is measured, not guessed.

A :class:`LagMonitor` task sleeps a short interval over and over and records
how late the event loop woke it. Every such stall is time in which no timer,
socket read or callback of the loop could run; the flows, the proxies and the
backends all share that loop, so a call doing work (an HTTP exchange with an
in-process backend, a token fetch, a DataAPI step) is stretched by every stall
it overlaps. A call *sleeping on a timer* (an attempt's deadline, a backoff, a
Wait step) is not: the timer fires at its deadline whatever the loop did
meanwhile, late only by the stall it fell due in. :class:`RunLag` therefore sums
the stalls inside a window of flow time, leaving out those that lie wholly
inside such a timer wait and end before it was due, and scales the sum to flow
milliseconds (100 wall ms of stall is a second of flow time at `time_scale:
10`). That is what a missed upper bound is compared with before it is called a
failure. (Summing every stall instead would excuse a 12 s timeout on a busy
loop; counting only the call's own wake-ups would miss the many wake-ups of
an HTTP exchange that leave no audit event.)

One monitor watches one event loop; every run of a suite shares it.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

__all__ = ["LagMonitor", "RunLag", "NO_LAG"]

# A sleeping loop wakes a fraction of a millisecond late on an idle machine; stalls
# below this are the loop's normal resolution, already inside every noise allowance.
_FLOOR_S = 0.002


class LagMonitor:
    """Samples the loop's timer lateness every `interval_s` while it runs (async context)."""

    def __init__(self, interval_s: float = 0.01, floor_s: float = _FLOOR_S) -> None:
        self.interval_s = interval_s
        self.floor_s = floor_s
        self._due: list[float] = []  # when each stall's timer was due (time.monotonic)
        self._woke: list[float] = []  # when it actually ran
        self._task: asyncio.Task[None] | None = None
        self.samples = 0

    async def __aenter__(self) -> Self:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        while True:
            due = time.monotonic() + self.interval_s
            await asyncio.sleep(self.interval_s)
            self.record(due, time.monotonic())

    def record(self, due: float, woke: float) -> None:
        """One timer due at `due` ran at `woke` (monotonic seconds); tests feed this directly."""
        self.samples += 1
        if woke - due >= self.floor_s:
            self._due.append(due)
            self._woke.append(woke)

    def stalled_s(self, start: float, end: float) -> tuple[float, float]:
        """(total, longest) stall in seconds overlapping [start, end] (monotonic seconds)."""
        total = longest = 0.0
        # Stalls are appended in time order and never overlap, so `_due` is sorted.
        first = max(0, bisect.bisect_left(self._due, start) - 1)
        for due, woke in zip(self._due[first:], self._woke[first:], strict=True):
            if due > end:
                break
            overlap = min(woke, end) - max(due, start)
            if overlap > 0:
                total += overlap
                longest = max(longest, overlap)
        return total, longest

    def stalled_except_s(
        self, start: float, end: float, sleeps: Sequence[tuple[float, float]]
    ) -> float:
        """Stall overlapping [start, end], minus stalls wholly inside a sleep that ended
        after them (monotonic seconds): a sleeping timer is late only by the stall it
        fell due in."""
        total = 0.0
        first = max(0, bisect.bisect_left(self._due, start) - 1)
        for due, woke in zip(self._due[first:], self._woke[first:], strict=True):
            if due > end:
                break
            slept = any(a <= due and woke < b - self.floor_s for a, b in sleeps)
            overlap = min(woke, end) - max(due, start)
            if overlap > 0 and not slept:
                total += overlap
        return total

    def worst_s(self) -> float:
        """The longest stall seen so far."""
        return max((w - d for d, w in zip(self._due, self._woke, strict=True)), default=0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunLag:
    """One run's view of the monitor, in the run's flow milliseconds.

    `flow_ms0` and `mono0` are one instant read on both clocks; flow time runs
    `scale` times faster than monotonic time from there.
    """

    monitor: LagMonitor | None
    scale: float = 1.0
    flow_ms0: float = 0.0
    mono0: float = 0.0

    def _mono(self, flow_ms: float) -> float:
        return self.mono0 + (flow_ms - self.flow_ms0) / 1000 / self.scale

    def in_window(
        self, start_ms: float, end_ms: float, sleeps: Sequence[tuple[float, float]] = ()
    ) -> float:
        """Flow ms of measured stall in [start_ms, end_ms] of flow time that could have
        stretched a call which slept on timers during `sleeps` (flow ms intervals)."""
        if self.monitor is None:
            return 0.0
        stalled = self.monitor.stalled_except_s(
            self._mono(start_ms),
            self._mono(end_ms),
            [(self._mono(a), self._mono(b)) for a, b in sleeps],
        )
        return stalled * 1000 * self.scale

    def whole_run(self) -> tuple[float, float]:
        """(total, longest) stall of the run so far, in flow ms."""
        if self.monitor is None:
            return 0.0, 0.0
        total, longest = self.monitor.stalled_s(self.mono0, time.monotonic())
        return total * 1000 * self.scale, longest * 1000 * self.scale


NO_LAG = RunLag(monitor=None)
