"""Callers in waves anchored on an event: exact arrival times on a virtual clock."""

from __future__ import annotations

import asyncio

import pytest

from harness.clock import VirtualClock
from harness.errors import ConfigError
from harness.events import Event
from harness.scenario.arrivals import Arrivals, parse_waves

WAVES = [
    {"from_call": 3, "after": {"event": "breaker", "where": {"new": "open"}}, "delay_ms": 2000,
     "spacing_ms": 500},
    {"from_call": 5, "after": {"event": "breaker", "where": {"new": "open"}}, "delay_ms": 45000},
]  # fmt: skip


def _arrive(open_at_ms: float | None, ended_at_ms: float = 30000) -> dict[int, float]:
    """Arrival time (flow ms) of each of 5 callers; the breaker opens at `open_at_ms`."""

    async def main() -> dict[int, float]:
        clock = VirtualClock()
        log: list[Event] = []
        emitted: list[dict[str, object]] = []

        def now() -> float:
            return clock.monotonic() * 1000

        def ended() -> int:
            return 4 if now() >= ended_at_ms else 0

        arrivals = Arrivals(
            spacing_ms=10000,
            waves=parse_waves(WAVES, 5),
            clock=clock,
            now_ms=now,
            events=lambda kind: [e for e in log if e.kind == kind],
            ended=ended,
            emit=lambda kind, **data: emitted.append(data),
        )
        seen: dict[int, float] = {}

        async def caller(index: int) -> None:
            await arrivals.wait_turn(index)
            seen[index + 1] = now()

        async def breaker() -> None:
            if open_at_ms is not None:
                await clock.sleep(open_at_ms / 1000)
                # Stamped when it happened; the wave must not wait for the poll that sees it.
                log.append(Event(kind="breaker", t_ms=open_at_ms, data={"new": "open"}))
            while len(seen) < 5:
                await clock.sleep(0.1)  # time moves on, as other calls would make it

        await asyncio.gather(breaker(), *(caller(i) for i in range(5)))
        await arrivals.aclose()
        return seen

    return asyncio.run(main())


def test_waves_arrive_relative_to_the_event() -> None:
    seen = _arrive(open_at_ms=12345)
    assert seen[1] == 0 and seen[2] == 10000
    # Anchored on the event's own stamp, not on when the watcher noticed it: exact.
    assert seen[3] == pytest.approx(12345 + 2000)
    assert seen[4] == pytest.approx(12345 + 2000 + 500)
    assert seen[5] == pytest.approx(12345 + 45000)


def test_without_the_event_a_wave_starts_when_earlier_callers_ended() -> None:
    seen = _arrive(open_at_ms=None, ended_at_ms=30000)
    # Never before the earlier callers ended; within a poll (50 ms) of it.
    assert seen[3] == pytest.approx(30000 + 2000, abs=50)
    assert seen[5] == pytest.approx(30000 + 45000, abs=50)


@pytest.mark.parametrize(
    ("waves", "pointer"),
    [
        ([{"from_call": 1, "after": {"event": "breaker"}}], "/callers/waves/0/from_call"),
        ([{"from_call": 9, "after": {"event": "breaker"}}], "/callers/waves/0/from_call"),
        (
            [{"from_call": 3, "after": {"event": "x"}}, {"from_call": 3, "after": {"event": "x"}}],
            "/callers/waves/1/from_call",
        ),
    ],
)
def test_waves_out_of_order_are_config_errors(waves: list[dict[str, object]], pointer: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_waves(waves, 5)
    assert info.value.pointer == pointer
