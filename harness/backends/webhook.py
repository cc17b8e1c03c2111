"""Webhook sender for the 202 pattern: a later POST to the flow's callback receiver.

Each callback runs as a background task on the servers' loop. A failed
delivery is recorded, never raised: a test double must not crash because the
receiver under test is down. :meth:`WebhookSender.aclose` cancels what is
still pending, so stopping the backends never leaves a task behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from harness.clock import Clock

__all__ = ["Delivery", "WebhookSender"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One callback attempt: the receiver's status, or the error that prevented it."""

    job_id: str
    url: str
    status_code: int | None
    error: str | None
    at_ms: int


class WebhookSender:
    """Schedules callbacks and keeps a record of every delivery."""

    def __init__(self, clock: Clock, *, timeout_s: float = 5.0) -> None:
        self._clock = clock
        self._timeout_s = timeout_s
        self._tasks: set[asyncio.Task[None]] = set()
        self.deliveries: list[Delivery] = []

    @property
    def pending(self) -> int:
        """Callbacks scheduled but not yet finished."""
        return len(self._tasks)

    def schedule(
        self, *, job_id: str, url: str, after_ms: int, payload: Callable[[], dict[str, Any]]
    ) -> None:
        """POST ``payload()`` to ``url`` after ``after_ms``; ``payload`` runs at send time."""
        task = asyncio.get_running_loop().create_task(self._send(job_id, url, after_ms, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(
        self, job_id: str, url: str, after_ms: int, payload: Callable[[], dict[str, Any]]
    ) -> None:
        await self._clock.sleep(after_ms / 1000)
        status: int | None = None
        error: str | None = None
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s, trust_env=False) as client:
                response = await client.post(url, json=payload())
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        self.deliveries.append(
            Delivery(
                job_id=job_id, url=url, status_code=status, error=error,
                at_ms=self._clock.wall_ms(),
            )
        )  # fmt: skip

    async def aclose(self) -> None:
        """Cancel every pending callback and wait for the tasks to finish."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
