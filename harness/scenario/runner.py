"""Run scenarios: one scenario against one flow set, and whole suites concurrently.

A run sets up its own backends, proxies, receiver and Data Storage (so runs
are isolated and can share one Toxiproxy server), applies the faults on
schedule, drives the callers through the flow runner, evaluates the
expectations, and tears everything down on every exit path.

While runs go, one :class:`~harness.scenario.lag.LagMonitor` measures how late
the event loop wakes (the harness's own saturation). A timing check missed by
less than that lag is inconclusive, and an inconclusive run is run once more
(`max_reruns`) when the rest of the suite has finished and the machine is quieter.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.clock import Clock, RealClock, ScaledClock
from harness.errors import ConfigError, HarnessError, did_you_mean
from harness.events import Event, EventLog
from harness.executor.deadline import DeadlineExceeded, within
from harness.executor.runner import FlowRunner
from harness.executor.timeline import Caller, CallResult
from harness.flow.loader import load_flow_set
from harness.flow.model import FlowSet
from harness.flow.profile import CXONE, PlatformProfile
from harness.scenario.arrivals import Arrivals, parse_waves
from harness.scenario.callers import build_callers
from harness.scenario.environment import Environment, environment
from harness.scenario.expectations import Check, RunFacts, evaluate, starved_timeouts
from harness.scenario.facts import BreakerMove, alert_windows, breaker_history
from harness.scenario.faults import CallCounter, FaultDriver
from harness.scenario.lag import LagMonitor, RunLag
from harness.scenario.model import Scenario
from harness.scenario.references import check_steps
from harness.scenario.verdict import OK_VERDICTS, run_verdict, suite_verdict

__all__ = [
    "FlowSetRef",
    "RunResult",
    "SuiteResult",
    "load_flow_sets",
    "check_step_references",
    "new_run_id",
    "repeat_job",
    "run_scenario",
    "run_suite",
    "take_slot",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowSetRef:
    name: str
    path: Path
    flows: FlowSet


@dataclass(kw_only=True)
class RunResult:
    scenario: Scenario
    flow_set: str
    # pass | fail | expected_failure | unexpected_pass | inconclusive | error
    verdict: str = "error"
    checks: list[Check] = field(default_factory=list)
    calls: list[CallResult] = field(default_factory=list)
    jobs: list[CallResult] = field(default_factory=list)  # scheduled flows' runs
    events: list[Event] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    wall_ms: float = 0.0
    error: str = ""
    alert: bool = False
    error_windows: list[dict[str, Any]] = field(default_factory=list)
    breakers: dict[str, list[BreakerMove]] = field(default_factory=dict)
    lag_ms: float = 0.0  # the harness's own measured scheduling stall over the run (flow ms)
    lag_max_ms: float = 0.0  # its longest single stall (flow ms)
    reruns: list[dict[str, Any]] = field(default_factory=list)  # earlier inconclusive attempts
    # Step-scoped faults whose step never ran under them (FaultDriver.unexercised).
    unexercised: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.scenario.name}[{self.flow_set}]"

    @property
    def ok(self) -> bool:
        return self.verdict in OK_VERDICTS

    def failures(self) -> list[Check]:
        """Checks that did not hold: real failures and inconclusive ones (see `Check.failed`)."""
        return [c for c in self.checks if not c.passed]

    def cleared_defects(self) -> list[str]:
        """Known defects of this flow set the run no longer detects (why it is unexpected_pass)."""
        failed = {c.title for c in self.failures()}
        return [t for t in self.scenario.known_defects.get(self.flow_set, ()) if t not in failed]

    def attempt_summary(self) -> dict[str, Any]:
        """What a rerun keeps of this attempt."""
        return {
            "verdict": self.verdict,
            "wall_ms": round(self.wall_ms, 3),
            "lag_ms": round(self.lag_ms, 1),
            "inconclusive": [
                {"title": c.title, "actual": c.actual, "lag_ms": round(c.lag_ms, 1)}
                for c in self.checks
                if c.inconclusive
            ],
        }


@dataclass(kw_only=True)
class SuiteResult:
    run_id: str
    started_at: str
    runs: list[RunResult]
    wall_ms: float
    toxiproxy: str
    incomplete: str = ""  # why the suite stopped before every run finished; "" when it did
    notes: list[str] = field(default_factory=list)  # what the suite could not test, and why

    @property
    def verdict(self) -> str:
        """`error` > `fail` > `inconclusive` > `pass` (see :mod:`harness.scenario.verdict`);
        an interrupted suite is `error` whatever its finished runs say."""
        if self.incomplete:
            return "error"
        return suite_verdict(r.verdict for r in self.runs)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def load_flow_sets(paths: Sequence[Path]) -> list[FlowSetRef]:
    refs = []
    for path in paths:
        refs.append(FlowSetRef(name=path.name, path=path, flows=load_flow_set(path)))
    return refs


async def run_scenario(
    scenario: Scenario,
    flow_set: FlowSetRef,
    *,
    toxiproxy_url: str,
    run_id: str,
    profile: PlatformProfile = CXONE,
    on_call: Callable[[RunResult, CallResult], None] | None = None,
    allow_non_loopback: bool = False,
    monitor: LagMonitor | None = None,
) -> RunResult:
    """Run one scenario against one flow set; harness errors become an `error` verdict.

    `monitor` is the suite's lag monitor; without one the run watches its own.
    """
    if monitor is None:
        async with LagMonitor() as own:
            return await run_scenario(
                scenario,
                flow_set,
                toxiproxy_url=toxiproxy_url,
                run_id=run_id,
                profile=profile,
                on_call=on_call,
                allow_non_loopback=allow_non_loopback,
                monitor=own,
            )
    result = RunResult(scenario=scenario, flow_set=flow_set.name)
    if flow_set.flows.get(scenario.entry) is None:
        raise ConfigError(
            f"entry flow '{scenario.entry}' is not in flow set {flow_set.path}",
            file=scenario.path,
            pointer="/entry",
            hint=did_you_mean(scenario.entry, flow_set.flows.flows)
            or "known: " + ", ".join(flow_set.flows.flows),
        )
    clock: Clock = ScaledClock(scenario.time_scale) if scenario.time_scale != 1 else RealClock()
    events = EventLog()
    started = time.monotonic()
    proxy_prefix = f"{run_id}-{scenario.name}-{flow_set.name}"
    try:
        async with environment(
            scenario,
            toxiproxy_url=toxiproxy_url,
            run_id=proxy_prefix,
            clock=clock,
            events=events,
            allow_non_loopback=allow_non_loopback,
        ) as env:
            lag = RunLag(
                monitor=monitor,
                scale=scenario.time_scale,
                flow_ms0=env.ctx.now_ms(),
                mono0=time.monotonic(),
            )
            await _drive(scenario, flow_set, env, clock, result, on_call, profile)
            result.lag_ms, result.lag_max_ms = lag.whole_run()
            result.events = list(events)
            facts = RunFacts(
                calls=result.calls,
                events=result.events,
                flows=flow_set.flows,
                profile=profile,
                requests=env.journal(),
                lag=lag,
                known_defects=frozenset(scenario.known_defects.get(flow_set.name, ())),
            )
            checks = evaluate(scenario.expect, facts)
            result.verdict, result.checks = run_verdict(
                scenario.known_defects, flow_set.name, checks
            )
            if result.unexercised:
                _unexercised(result, facts)
            result.error_windows = alert_windows(result.events, profile)
            result.alert = any(w["over_threshold"] for w in result.error_windows)
            result.breakers = breaker_history(result.events)
    except HarnessError as exc:
        result.verdict, result.error = "error", str(exc)
        result.events = list(events)
    result.wall_ms = (time.monotonic() - started) * 1000
    return result


def _unexercised(result: RunResult, facts: RunFacts) -> None:
    """A fault its step never felt tested nothing: neither a pass nor a finding. It is an
    error of the scenario, unless the harness starved an attempt on the way (a healthy
    step before it timed out while the loop stalled): then it is inconclusive, and rerun."""
    why = "; ".join(result.unexercised)
    stalled = starved_timeouts(facts, None)
    if not stalled:
        result.verdict, result.error = "error", why
        return
    result.checks.append(
        Check(
            title="every fault aimed at a step ran under it",
            passed=False,
            expected="each aimed fault met its step",
            actual=f"inconclusive: the machine was overloaded (lag {stalled:.0f} ms): {why}",
            inconclusive=True,
            lag_ms=stalled,
        )
    )
    result.verdict = "inconclusive"


async def _drive(
    scenario: Scenario,
    flow_set: FlowSetRef,
    env: Environment,
    clock: Clock,
    result: RunResult,
    on_call: Callable[[RunResult, CallResult], None] | None,
    profile: PlatformProfile,
) -> None:
    runner = FlowRunner(
        flow_set.flows, env.ctx, audio_scale=0.0 if scenario.audio == "instant" else 1.0
    )
    counter = CallCounter()
    driver = FaultDriver(scenario, env, clock, lambda kind, **data: env.ctx.emit(kind, **data))
    variables = {**env.credentials(), **scenario.variables}
    slots = asyncio.Semaphore(scenario.callers.concurrency)
    results: dict[str, CallResult] = {}

    arrivals = Arrivals(
        spacing_ms=scenario.callers.spacing_ms,
        waves=parse_waves(scenario.callers.waves, scenario.callers.count, scenario.path),
        clock=clock,
        now_ms=env.ctx.now_ms,
        events=env.ctx.events.of_kind,
        ended=lambda: counter.done,
        emit=env.ctx.emit,
    )

    async def one(index: int, caller: Any) -> None:
        await arrivals.wait_turn(index)
        arrived = env.ctx.now_ms()
        if not await take_slot(slots, clock, scenario.callers.max_queue_ms):
            call = CallResult.dropped(caller.call_id, arrived, env.ctx.now_ms())
            env.ctx.emit("call_dropped", call_id=caller.call_id, waited_ms=call.duration_ms)
            results[caller.call_id] = call
            await counter.ended()
            return
        try:
            call = await runner.run_call(scenario.entry, caller, variables)
            results[caller.call_id] = call
            if on_call is not None:
                on_call(result, call)
            await counter.ended()
        finally:
            slots.release()

    callers = build_callers(scenario.callers)
    jobs: list[asyncio.Task[None]] = []
    try:
        await driver.start(counter)
        result.jobs.extend(await runner.run_jobs(variables))
        jobs = [
            asyncio.create_task(repeat_job(runner, flow, clock, variables, result.jobs.append))
            for flow in flow_set.flows.scheduled()
        ]
        await asyncio.gather(*(one(i, c) for i, c in enumerate(callers)))
        ordered = [results[c.call_id] for c in callers if c.call_id in results]
        result.unexercised = driver.unexercised(list(env.ctx.events), ordered)
    finally:
        await arrivals.aclose()
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        await driver.stop()
        result.faults = driver.log
        result.calls = [results[c.call_id] for c in callers if c.call_id in results]


async def take_slot(slots: asyncio.Semaphore, clock: Clock, max_queue_ms: int | None) -> bool:
    """A flow-execution slot, or False when none frees up within `max_queue_ms`."""
    if max_queue_ms is None:
        await slots.acquire()
        return True
    try:
        await within(clock, max_queue_ms / 1000, slots.acquire())
    except DeadlineExceeded:
        return False
    return True


async def repeat_job(
    runner: FlowRunner,
    flow: Any,
    clock: Clock,
    variables: dict[str, Any],
    record: Callable[[CallResult], object],
) -> None:
    """A scheduled flow's later rounds, every `schedule.everyMs` of flow time."""
    round_ = 1
    while flow.schedule_every_ms:
        await clock.sleep(flow.schedule_every_ms / 1000)
        round_ += 1
        caller = Caller(ani="", dnis="", call_id=f"job-{flow.id}-{round_}")
        record(await runner.run_call(flow.id, caller, variables))


def suite_pairs(
    scenarios: Sequence[Scenario], flow_sets: Sequence[FlowSetRef]
) -> list[tuple[Scenario, FlowSetRef]]:
    """The (scenario, flow set) runs of a suite; a ConfigError when an entry flow is missing
    or a scenario's caller waves do not fit its callers."""
    pairs = [(s, f) for s in scenarios for f in flow_sets if s.applies_to(f.name)]
    for scenario, flow_set in pairs:
        parse_waves(scenario.callers.waves, scenario.callers.count, scenario.path)
        if flow_set.flows.get(scenario.entry) is None:
            raise ConfigError(
                f"entry flow '{scenario.entry}' is not in flow set {flow_set.path}",
                file=scenario.path,
                pointer="/entry",
                hint=did_you_mean(scenario.entry, flow_set.flows.flows) or "",
            )
    return pairs


def check_step_references(scenarios: Sequence[Scenario], flow_sets: Sequence[FlowSetRef]) -> None:
    """Every step an expectation names exists in one of the flow sets: called by whoever
    sees the whole suite (the CLI, the pytest plugin at collection), since a run or a
    shard sees only some flow sets."""
    for scenario in scenarios:
        check_steps(scenario.expect, [f.flows for f in flow_sets], scenario.path, scenario.faults)


async def run_suite(
    scenarios: Sequence[Scenario],
    flow_sets: Sequence[FlowSetRef],
    *,
    toxiproxy_url: str | None = None,
    run_id: str | None = None,
    max_parallel: int = 32,
    on_call: Callable[[RunResult, CallResult], None] | None = None,
    on_run: Callable[[RunResult], None] | None = None,
    max_reruns: int = 1,
    allow_non_loopback: bool = False,
) -> SuiteResult:
    """Every scenario against every flow set it applies to, concurrently.

    A run that comes out `inconclusive` (the harness measured itself too
    overloaded to judge a timing check) is run again, up to `max_reruns` times,
    once the first round is over; `on_run` sees only each run's final result.
    """
    from harness.faults.client import ToxiproxyControl
    from harness.faults.toxiproxy import EmbeddedToxiproxy, Limits

    run_id = run_id or new_run_id()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    pairs = suite_pairs(scenarios, flow_sets)
    gate = asyncio.Semaphore(max_parallel)
    start = time.monotonic()

    async def one(
        scenario: Scenario, flow_set: FlowSetRef, url: str, round_: int, last: bool
    ) -> RunResult:
        async with gate:
            run = await run_scenario(
                scenario,
                flow_set,
                toxiproxy_url=url,
                run_id=run_id if round_ == 0 else f"{run_id}-r{round_}",
                on_call=on_call,
                monitor=monitor,
                allow_non_loopback=allow_non_loopback,
            )
        if on_run is not None and (last or run.verdict != "inconclusive"):
            on_run(run)
        return run

    async with contextlib.AsyncExitStack() as stack:
        monitor = await stack.enter_async_context(LagMonitor())
        url = toxiproxy_url
        if url is not None:
            # A shared server may still hold proxies of runs on this host that died
            # without cleaning up (SIGKILL, OOM): remove those, never a live run's.
            await ToxiproxyControl(url, run_id).prune_dead()
        else:
            limits = Limits(allow_non_loopback=allow_non_loopback)
            server = await stack.enter_async_context(
                EmbeddedToxiproxy(host="127.0.0.1", port=0, limits=limits)
            )
            url = server.url
        runs = list(await asyncio.gather(*(one(s, f, url, 0, max_reruns == 0) for s, f in pairs)))
        for round_ in range(1, max_reruns + 1):
            again = [i for i, run in enumerate(runs) if run.verdict == "inconclusive"]
            if not again:
                break
            last = round_ == max_reruns
            fresh = await asyncio.gather(
                *(
                    one(runs[i].scenario, _flow_set_of(pairs, runs[i]), url, round_, last)
                    for i in again
                )
            )
            for i, run in zip(again, fresh, strict=True):
                run.reruns = [*runs[i].reruns, runs[i].attempt_summary()]
                runs[i] = run
    return SuiteResult(
        run_id=run_id,
        started_at=started_at,
        runs=runs,
        wall_ms=(time.monotonic() - start) * 1000,
        toxiproxy=toxiproxy_url or "embedded",
    )


def _flow_set_of(pairs: Sequence[tuple[Scenario, FlowSetRef]], run: RunResult) -> FlowSetRef:
    return next(f for s, f in pairs if s is run.scenario and f.name == run.flow_set)
