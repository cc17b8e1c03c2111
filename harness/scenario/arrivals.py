"""When each caller arrives: on a fixed spacing, or in waves anchored on an event.

A behaviour under test is often relative: "callers arriving while the breaker
is open". Timed from the start of the run, such a caller lands in its window
only if every earlier step took its nominal time; under `time_scale: 10` every
100 ms of scheduling jitter is a second of flow time. A wave instead starts
`delay_ms` after the event it names (a breaker opening, a fault applied), read
from the audit trail with the event's own flow-time stamp, so the margin the
scenario states is the margin the run gets::

    callers:
      count: 6
      spacing_ms: 10000               # calls 1-2: 10 s apart from the start
      waves:
        - from_call: 3                # calls 3-5: 2 s apart, from 2 s after the breaker opens
          after: {event: breaker, where: {key: crm, new: open}}
          delay_ms: 2000
          spacing_ms: 2000
        - from_call: 6                # call 6: 45 s after it opened (cooldown 30 s)
          after: {event: breaker, where: {key: crm, new: open}}
          delay_ms: 45000

If the event never comes (a flow without that breaker), the wave starts when
every earlier caller has ended, as if the event had happened then, so a flow
that lacks the behaviour fails the checks instead of hanging the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.clock import Clock
from harness.errors import ConfigError
from harness.events import Event

__all__ = ["Arrivals", "Wave", "parse_waves"]

# Flow seconds between looks at the audit trail while a wave waits. On the run's
# clock, so a virtual clock stays exact; the latency matters little, because a
# wave is anchored on the event's own stamp, not on when the poll noticed it.
_POLL_S = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class Wave:
    from_call: int  # 1-based: the first caller of this wave
    event: str
    where: Mapping[str, Any]
    delay_ms: int = 0
    spacing_ms: int | None = None  # default: the callers' spacing_ms


def parse_waves(
    raw: Sequence[Mapping[str, Any]], count: int, file: Path | None = None
) -> list[Wave]:
    """Waves from a scenario's `callers.waves`; each must start later than the one before."""
    waves: list[Wave] = []
    for i, item in enumerate(raw):
        pointer = f"/callers/waves/{i}"
        after = item.get("after", {})
        wave = Wave(
            from_call=int(item["from_call"]),
            event=str(after.get("event", "")),
            where=dict(after.get("where", {})),
            delay_ms=int(item.get("delay_ms", 0)),
            spacing_ms=item.get("spacing_ms"),
        )
        previous = waves[-1].from_call if waves else 1
        if not previous < wave.from_call <= count:
            raise ConfigError(
                f"a wave starting at call {wave.from_call} of {count} callers",
                file=file,
                pointer=f"{pointer}/from_call",
                hint=f"waves start after call 1, in increasing order, at most at call {count}",
            )
        if not wave.event:
            raise ConfigError(
                "a wave needs the event it waits for",
                file=file,
                pointer=f"{pointer}/after",
                hint="e.g. after: {event: breaker, where: {key: crm, new: open}}",
            )
        waves.append(wave)
    return waves


class Arrivals:
    """Puts each caller's task to sleep until its arrival time (flow time)."""

    def __init__(
        self,
        *,
        spacing_ms: int,
        waves: Sequence[Wave],
        clock: Clock,
        now_ms: Callable[[], float],
        events: Callable[[str], list[Event]],
        ended: Callable[[], int],
        emit: Callable[..., Any],
    ) -> None:
        self.spacing_ms = spacing_ms
        self.waves = list(waves)
        self.clock = clock
        self.now_ms = now_ms
        self.events = events  # audit events of a kind, in order
        self.ended = ended  # how many calls have ended
        self.emit = emit
        self._starts: dict[int, asyncio.Future[float]] = {}
        self._watchers: list[asyncio.Task[None]] = []

    async def aclose(self) -> None:
        """Stop watching for events (the run is over)."""
        for task in self._watchers:
            task.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)

    def _wave_of(self, index: int) -> Wave | None:
        found = None
        for wave in self.waves:
            if index + 1 >= wave.from_call:
                found = wave
        return found

    async def wait_turn(self, index: int) -> None:
        """Return when caller `index` (0-based) arrives; called at the start of the run."""
        wave = self._wave_of(index)
        if wave is None:
            if self.spacing_ms:
                await self.clock.sleep(index * self.spacing_ms / 1000)
            return
        start = await self._start(wave)
        spacing = self.spacing_ms if wave.spacing_ms is None else wave.spacing_ms
        at = start + wave.delay_ms + (index + 1 - wave.from_call) * spacing
        await self.clock.sleep(max(0.0, at - self.now_ms()) / 1000)

    def _start(self, wave: Wave) -> asyncio.Future[float]:
        if wave.from_call not in self._starts:
            future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            self._starts[wave.from_call] = future
            self._watchers.append(asyncio.ensure_future(self._watch(wave, future)))
        return self._starts[wave.from_call]

    async def _watch(self, wave: Wave, future: asyncio.Future[float]) -> None:
        # The event's own stamp anchors the wave, not the moment this poll noticed it.
        while not future.done():
            seen = [
                e
                for e in self.events(wave.event)
                if all(e.data.get(k) == v for k, v in wave.where.items())
            ]
            if seen:
                self._begin(wave, future, seen[0].t_ms, "event")
            elif self.ended() >= wave.from_call - 1:
                self._begin(wave, future, self.now_ms(), "earlier_calls_ended")
            else:
                await self.clock.sleep(_POLL_S)

    def _begin(self, wave: Wave, future: asyncio.Future[float], t_ms: float, why: str) -> None:
        self.emit("callers_wave", from_call=wave.from_call, anchor_ms=round(t_ms, 3), trigger=why)
        future.set_result(t_ms)
