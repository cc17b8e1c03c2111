"""Everything the executor shares across the calls of one run."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.clock import Clock, RealClock
from harness.events import Event, EventLog
from harness.executor.auth import TokenCache
from harness.executor.resolver import FaultyResolver, Resolver
from harness.executor.storage import DataStorage
from harness.executor.wire import AiohttpWire, Router, Wire
from harness.flow.profile import CXONE, PlatformProfile

__all__ = ["ExecutorContext"]


@dataclass(kw_only=True)
class ExecutorContext:
    """Shared state: wire, clock, resolver, Data Storage, token cache, events, slots.

    Build one per run with :meth:`create`; close it with :meth:`aclose`.
    """

    wire: Wire
    clock: Clock
    resolver: Resolver
    router: Router
    storage: DataStorage
    tokens: TokenCache
    events: EventLog
    profile: PlatformProfile
    rng: random.Random
    slots: asyncio.Semaphore
    t0: float = 0.0
    owns_wire: bool = False
    # Mark each request with its call, step and attempt (TRACE_HEADER) for the stand-in
    # backends of a scenario run; never for calls against real endpoints.
    trace: bool = False

    @classmethod
    def create(
        cls,
        *,
        clock: Clock | None = None,
        wire: Wire | None = None,
        routes: Mapping[str, str] | None = None,
        resolver: Resolver | None = None,
        profile: PlatformProfile = CXONE,
        events: EventLog | None = None,
        seed: int = 0,
        allow_non_loopback: bool = False,
        storage: DataStorage | None = None,
        trace: bool = False,
    ) -> ExecutorContext:
        clock = clock or RealClock()
        return cls(
            wire=wire or AiohttpWire(max_connections=profile.max_concurrent_requests),
            clock=clock,
            resolver=resolver or FaultyResolver(clock),
            router=Router(routes=dict(routes or {}), allow_non_loopback=allow_non_loopback),
            storage=storage or DataStorage(clock.monotonic),
            tokens=TokenCache(clock.monotonic, profile.token_refresh_ahead_ms / 1000),
            events=events if events is not None else EventLog(),
            profile=profile,
            rng=random.Random(seed),
            slots=asyncio.Semaphore(profile.max_concurrent_requests),
            t0=clock.monotonic(),
            owns_wire=True,
            trace=trace,
        )

    def now_ms(self) -> float:
        """Milliseconds since the run started, on the run clock."""
        return (self.clock.monotonic() - self.t0) * 1000

    def emit(self, kind: str, *, call_id: str = "", step_id: str = "", **data: Any) -> Event:
        return self.events.emit(
            Event(
                kind=kind,
                t_ms=round(self.now_ms(), 3),
                wall_ms=self.clock.wall_ms(),
                call_id=call_id,
                step_id=step_id,
                data=data,
            )
        )

    async def aclose(self) -> None:
        await self.tokens.aclose()
        if self.owns_wire:
            await self.wire.aclose()
