"""One deadline per attempt, measured on the injected clock.

Per-phase timeouts (connect, read, write) let a body dribbled one byte at a
time run far past the step's `timeout`; a single deadline around the whole
attempt, from DNS lookup to the last body byte, cannot be outrun.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from harness.clock import Clock, RealClock

__all__ = ["DeadlineExceeded", "within"]

T = TypeVar("T")


class DeadlineExceeded(Exception):
    """The attempt's deadline passed before it finished."""


async def within(clock: Clock, seconds: float, work: Awaitable[T]) -> T:
    """Run `work`, cancelling it when `seconds` of clock time have passed."""
    if isinstance(clock, RealClock):
        # The loop's own timer is the real clock; avoid a second task per attempt.
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                return await work
        except TimeoutError as exc:
            raise DeadlineExceeded from exc
    task = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        # The caller is cancelled (a stop signal): the attempt must end with it, not run
        # on unowned against a connector that is being closed.
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise
    finally:
        timer.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    raise DeadlineExceeded
