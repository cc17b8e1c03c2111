"""One injectable clock for every wait in the harness.

Every timeout, backoff, breaker cooldown and audio duration goes through a
:class:`Clock`. Production code uses :class:`RealClock`; in-process tests use
:class:`VirtualClock`, whose time only moves when every task is asleep, so
retries and cooldowns are instant and exact (in the spirit of trio's MockClock).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "RealClock", "ScaledClock", "VirtualClock"]


@runtime_checkable
class Clock(Protocol):
    """Monotonic time in seconds plus a sleep that honours it."""

    def monotonic(self) -> float: ...

    def wall_ms(self) -> int:
        """Milliseconds since the epoch, for `currentTimestamp()` and event stamps."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    """The loop's monotonic clock and a real `asyncio.sleep`."""

    def __init__(self) -> None:
        self._offset = time.time() - time.monotonic()

    def monotonic(self) -> float:
        return time.monotonic()

    def wall_ms(self) -> int:
        return int((time.monotonic() + self._offset) * 1000)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Flow time running `scale` times faster than wall time, for long holds and cooldowns.

    Every wait of the harness (timeouts, backoff, audio, Wait steps, backend
    delays, webhook callbacks) goes through this clock, so a 120 s hold takes
    12 s at scale 10. Network faults are real time: the scenario runner divides
    toxic durations by the same scale so both sides stay consistent.
    """

    def __init__(self, scale: float) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self._origin = time.monotonic()
        self._epoch_ms = time.time() * 1000

    def monotonic(self) -> float:
        return self._origin + (time.monotonic() - self._origin) * self.scale

    def wall_ms(self) -> int:
        return int(self._epoch_ms + (time.monotonic() - self._origin) * self.scale * 1000)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)


class VirtualClock:
    """Virtual time for in-process tests.

    `sleep` parks the task on a heap of deadlines. A background driver advances
    time to the earliest deadline only when the event loop has nothing else
    ready to run (it yields to the loop several times first), so code under
    test sees exact, instant waits.
    """

    def __init__(
        self, start: float = 0.0, *, epoch_ms: int = 1_767_225_600_000, settle: int = 20
    ) -> None:
        self._now = start
        self._epoch_ms = epoch_ms
        self._settle = settle  # loop turns the driver yields before time may move
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._driver: asyncio.Task[None] | None = None

    def monotonic(self) -> float:
        return self._now

    def wall_ms(self) -> int:
        return self._epoch_ms + int(round(self._now * 1000))

    def advance(self, seconds: float) -> None:
        """Move time forward by hand, waking every sleeper whose deadline passed."""
        self._now += seconds
        self._wake()

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self._now + max(0.0, seconds), next(self._seq), fut))
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._drive())
        await fut

    def _wake(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    async def _drive(self) -> None:
        while self._sleepers:
            for _ in range(self._settle):  # let every runnable task reach its next await
                await asyncio.sleep(0)
            self._sleepers = [s for s in self._sleepers if not s[2].done()]
            heapq.heapify(self._sleepers)
            if not self._sleepers:
                return
            self._now = max(self._now, self._sleepers[0][0])
            self._wake()
