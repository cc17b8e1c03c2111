"""Run a load: callers arriving on a plan through one flow, under a scenario's faults.

`run_load` sets up the scenario's environment (its own backends, proxies and
receiver on loopback), applies the scenario's faults on their schedule, lets
callers arrive on the `LoadPlan`, queues them for a flow-execution slot for as
long as their patience lasts, and records every call into mergeable histograms
while a monitor measures the harness's own saturation. A shard (k of n) runs
arrivals k, k+n, ... of the same plan; counted fault triggers (`after_calls`,
`until_calls`) are divided by n, so they fire at the same point of the run, and
so are the flow-execution slots.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from harness.clock import Clock, RealClock, ScaledClock
from harness.events import Event, EventLog
from harness.executor.runner import FlowRunner
from harness.executor.timeline import Caller, CallResult
from harness.flow.profile import CXONE, PlatformProfile
from harness.scenario.callers import build_callers
from harness.scenario.collector import young_collections_only
from harness.scenario.environment import Environment, environment
from harness.scenario.expectations import Check, RunFacts, evaluate
from harness.scenario.faults import CallCounter, FaultDriver
from harness.scenario.histograms import LoadHistograms
from harness.scenario.load import LoadCounts, record_call
from harness.scenario.loadplan import LoadPlan, arrival_times
from harness.scenario.model import Scenario
from harness.scenario.runner import FlowSetRef, repeat_job, take_slot
from harness.scenario.saturation import Saturation, SaturationMonitor

__all__ = ["LoadProgress", "LoadRun", "run_load", "shard_scenario"]

_PROGRESS_EVERY_S = 1.0
# Tickets a load shard's reference ticket system keeps (100 MB at most).
RETAINED_RECORDS = 100_000


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadProgress:
    """Where a load run stands, once a second of wall time (`run_load(on_progress=...)`)."""

    elapsed_s: float
    arrivals: int  # the plan's arrivals for this process
    arrived: int
    ended: int  # finished or dropped
    dropped: int
    busy_slots: int
    queued: int


class _CountingLog(EventLog):
    """A shard's event log: nothing reads a shard's events, so none are redacted or kept.

    Redacting and storing some twenty events a call was a tenth of a shard's CPU.
    """

    def emit(self, event: Event) -> Event:
        return event


@dataclass(kw_only=True)
class LoadRun:
    """One process's part of a load run: its histograms, counts and saturation."""

    shard: tuple[int, int] = (0, 1)
    histograms: LoadHistograms = field(default_factory=LoadHistograms)
    counts: LoadCounts = field(default_factory=LoadCounts)
    saturation: Saturation = field(default_factory=Saturation)
    wall_s: float = 0.0
    calls: list[CallResult] = field(default_factory=list)  # kept only when asked
    checks: list[Check] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)

    @property
    def peak_callers(self) -> int:
        """Most callers in the system at once (in a slot or queued for one)."""
        return self.histograms.busy_slots.peak + self.histograms.queued.peak


def shard_scenario(scenario: Scenario, shards: int) -> Scenario:
    """The scenario one of `shards` shards runs: counted fault triggers divided by n."""
    if shards == 1:
        return scenario

    def part(n: int | None) -> int | None:
        return None if n is None else max(1, math.ceil(n / shards))

    faults = tuple(
        dataclasses.replace(f, after_calls=part(f.after_calls), until_calls=part(f.until_calls))
        for f in scenario.faults
    )
    return dataclasses.replace(scenario, faults=faults)


@contextlib.asynccontextmanager
async def _toxiproxy(url: str | None) -> AsyncIterator[str]:
    if url is not None:
        yield url
        return
    from harness.faults.toxiproxy import EmbeddedToxiproxy

    async with EmbeddedToxiproxy(host="127.0.0.1", port=0) as server:
        yield server.url


async def run_load(
    scenario: Scenario,
    flow_set: FlowSetRef,
    plan: LoadPlan,
    *,
    run_id: str,
    toxiproxy_url: str | None = None,
    shard: tuple[int, int] = (0, 1),
    keep_calls: bool = True,
    profile: PlatformProfile = CXONE,
    on_progress: Callable[[LoadProgress], None] | None = None,
    out: LoadRun | None = None,
) -> LoadRun:
    """Run the plan's arrivals (this shard's share) and measure them.

    With `keep_calls` the calls are kept and the scenario's expectations
    evaluated (`checks`); a shard of a distributed run keeps only its numbers.
    `on_progress` is called once a second while callers arrive and finish. Pass `out`
    to keep the numbers of the calls that ended when the run is cancelled.
    """
    index, total = shard
    scenario = shard_scenario(scenario, total)
    times = arrival_times(plan)[index::total]
    # the run's slots are shared out: n shards hold as many calls at once as one run
    plan = dataclasses.replace(
        plan, slots=max(1, plan.slots // total + (1 if index < plan.slots % total else 0))
    )
    spec = dataclasses.replace(scenario.callers, count=len(times) * total)
    callers = build_callers(spec)[index::total]
    clock: Clock = ScaledClock(scenario.time_scale) if scenario.time_scale != 1 else RealClock()
    events = EventLog() if keep_calls else _CountingLog()
    out = out if out is not None else LoadRun(shard=shard)
    async with _toxiproxy(toxiproxy_url) as url:
        async with environment(
            scenario,
            toxiproxy_url=url,
            run_id=f"{run_id}-load-{index}of{total}",
            clock=clock,
            events=events,
        ) as env:
            env.keep_journal(keep_calls)  # only a run's checks read it
            # A shard may run for hours: its ticket system keeps the newest tickets only
            # (at 1 KB each; minutes of a 6,000-caller load, far past any call's length).
            env.retain_records(None if keep_calls else RETAINED_RECORDS)
            started = time.monotonic()
            monitor = SaturationMonitor()
            with young_collections_only() as pauses:
                async with monitor, _reporting(out, len(times), on_progress):
                    await _drive(
                        scenario, flow_set, env, clock, plan, times, callers, out, keep_calls
                    )
            out.saturation = monitor.result
            out.saturation.gc_pauses = pauses
            out.histograms.loop_lag.merge(monitor.result.loop_lag)
            out.wall_s = time.monotonic() - started
            if keep_calls:
                facts = RunFacts(
                    calls=out.calls,
                    events=list(events),
                    flows=flow_set.flows,
                    profile=profile,
                    requests=env.journal(),
                )
                out.checks = evaluate(scenario.expect, facts)
    return out


@contextlib.asynccontextmanager
async def _reporting(
    out: LoadRun, arrivals: int, on_progress: Callable[[LoadProgress], None] | None
) -> AsyncIterator[None]:
    if on_progress is None:
        yield
        return
    started = time.monotonic()

    def report() -> None:
        h, counts = out.histograms, out.counts
        on_progress(
            LoadProgress(
                elapsed_s=time.monotonic() - started,
                arrivals=arrivals,
                arrived=counts.calls + h.busy_slots.level + h.queued.level,
                ended=counts.calls,
                dropped=counts.dropped,
                busy_slots=h.busy_slots.level,
                queued=h.queued.level,
            )
        )

    async def tick() -> None:
        while True:
            await asyncio.sleep(_PROGRESS_EVERY_S)
            report()

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    report()


async def _drive(
    scenario: Scenario,
    flow_set: FlowSetRef,
    env: Environment,
    clock: Clock,
    plan: LoadPlan,
    times: list[float],
    callers: list[Caller],
    out: LoadRun,
    keep_calls: bool,
) -> None:
    runner = FlowRunner(
        flow_set.flows, env.ctx, audio_scale=0.0 if scenario.audio == "instant" else 1.0
    )
    counter = CallCounter()
    driver = FaultDriver(scenario, env, clock, lambda kind, **data: env.ctx.emit(kind, **data))
    variables = {**env.credentials(), **scenario.variables}
    slots = asyncio.Semaphore(plan.slots)
    h = out.histograms
    t0 = clock.monotonic()

    def now() -> float:
        return clock.monotonic() - t0

    async def one(caller: Caller) -> None:
        arrived = env.ctx.now_ms()
        h.queued.change(now(), 1)
        got = await take_slot(slots, clock, plan.patience_ms)
        h.queued.change(now(), -1)
        waited = env.ctx.now_ms() - arrived
        if not got:
            call = CallResult.dropped(caller.call_id, arrived, env.ctx.now_ms())
            env.ctx.emit("call_dropped", call_id=caller.call_id, waited_ms=waited)
        else:
            h.queue_wait.record(waited)
            h.busy_slots.change(now(), 1)
            try:
                call = await runner.run_call(scenario.entry, caller, variables)
            finally:
                h.busy_slots.change(now(), -1)
                slots.release()
        record_call(h, out.counts, call)
        if keep_calls:
            out.calls.append(call)
        await counter.ended()

    tasks: set[asyncio.Task[None]] = set()
    jobs: list[asyncio.Task[None]] = []
    try:
        await driver.start(counter)
        await runner.run_jobs(variables)  # scheduled flows first, as at deployment
        jobs = [
            asyncio.create_task(repeat_job(runner, flow, clock, variables, lambda _: None))
            for flow in flow_set.flows.scheduled()
        ]
        for at, caller in zip(times, callers, strict=True):
            delay = at - now()
            if delay > 0:
                await clock.sleep(delay)
            task = asyncio.create_task(one(caller))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        while tasks:
            await asyncio.gather(*list(tasks))
    finally:
        for task in [*tasks, *jobs]:
            task.cancel()
        await asyncio.gather(*tasks, *jobs, return_exceptions=True)
        await driver.stop()
        h.queued.close(now())
        h.busy_slots.close(now())
        out.faults = driver.log

