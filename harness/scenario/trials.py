"""Running the mutants: each against the scenarios that can kill it, stopped at its first kill.

Three things make this fast, as in Stryker and mutmut:

- **Coverage.** A mutant runs only against the scenarios whose calls (or scheduled
  jobs) visited a step it changed in the original run (`harness.scenario.original`).
  Why the others cannot kill it: a flow runner reads a step's configuration only when
  it executes that step, so until a call executes a changed step the mutant's run is
  the original's run, step for step, and a run that never executes one is the
  original's run throughout, whose checks are already known. That holds for state
  shared across steps and calls too (a breaker key, Data Storage, the token cache):
  only an executing step writes them, so a changed step writes nothing until it runs.
  Scheduled flows count, since their jobs' steps are in the run's timelines. What it
  leaves to the caller: a change outside the steps (a flow's variables or schedule, a
  step added or removed) covers every scenario (`changed_steps` says None); coverage
  comes from one original run, so a step that a scenario reaches only under some
  timings can be missed (`--no-coverage` runs every scenario on every mutant); lint
  kills are static and are found before any run.
- **Bail.** The scenarios of one mutant are ranked (the original's quickest first,
  then by name) and the first kill stops the mutant's later-ranked runs, running or
  waiting. Earlier-ranked runs still under way finish, and the kill of the
  earliest-ranked killing run is the one reported, so the killer named does not depend
  on which run the machine happened to finish first. `bail=False` runs everything and
  names every killer.
- **Timeouts.** A mutant's run that lasts past `time_limit_s` of the original's run of
  the same scenario (twice its wall time, at least 5 s more) is stopped and kills the
  mutant as a timeout: a caller held far longer than before is a finding. The limit
  is stretched by the harness's own measured scheduling stall over the run, so an
  overloaded machine does not kill mutants.

Runs go breadth first: every mutant's first-ranked run before any mutant's second,
at most `max_parallel` at once, on one shared lag monitor and Toxiproxy server.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.errors import HarnessError
from harness.executor.timeline import CallResult
from harness.scenario.lag import LagMonitor
from harness.scenario.model import Scenario
from harness.scenario.original import OriginalRun
from harness.scenario.runner import FlowSetRef, RunResult, run_scenario

__all__ = ["Lane", "Runner", "Trial", "judge_run", "rank", "run_trials", "time_limit_s"]

_KILLERS_PER_RUN = 3


class Runner(Protocol):
    """Runs one scenario on one flow set, as `harness.scenario.runner.run_scenario` does."""

    def __call__(
        self,
        scenario: Scenario,
        flow_set: FlowSetRef,
        *,
        toxiproxy_url: str,
        run_id: str,
        on_call: Callable[[RunResult, CallResult], None] | None = None,
        monitor: LagMonitor | None = None,
    ) -> Coroutine[Any, Any, RunResult]: ...


def time_limit_s(original_ms: float) -> float:
    """How long a mutant's run may last: max(2x the original's, the original's + 5 s)."""
    return max(2 * original_ms, original_ms + 5000) / 1000


def rank(runs: Sequence[OriginalRun]) -> list[OriginalRun]:
    """The order a mutant's scenarios run in: the original's quickest first (by the power
    of two of its wall time, so noise rarely reorders two alike runs), then by name."""
    return sorted(runs, key=lambda r: (int(max(r.wall_ms, 1.0)).bit_length(), r.scenario))


@dataclass(frozen=True, slots=True, kw_only=True)
class Trial:
    """What the scenarios did to one mutant."""

    killed_by: tuple[str, ...] = ()
    timed_out: bool = False  # the kill reported is a run stopped at its time limit
    unclear: tuple[str, ...] = ()  # checks missed only within the measured lag
    unclear_scenarios: tuple[str, ...] = ()
    error: str = ""  # the first run that could not run
    covering: int = 0  # scenarios whose original calls visited a changed step
    ran: int = 0  # runs finished or stopped at their time limit
    stopped: int = 0  # runs cancelled or never started after the first kill
    flows: frozenset[str] | None = frozenset()  # flows its runs went through; None: unknown
    reused: bool = False  # from an --incremental file

    def to_json(self) -> dict[str, Any]:
        return {
            "killed_by": list(self.killed_by),
            "timed_out": self.timed_out,
            "unclear": list(self.unclear),
            "unclear_scenarios": list(self.unclear_scenarios),
            "error": self.error,
            "covering": self.covering,
            "ran": self.ran,
            "stopped": self.stopped,
            "flows": None if self.flows is None else sorted(self.flows),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Trial:
        flows = raw["flows"]
        return cls(
            killed_by=tuple(map(str, raw["killed_by"])),
            timed_out=bool(raw["timed_out"]),
            unclear=tuple(map(str, raw["unclear"])),
            unclear_scenarios=tuple(map(str, raw["unclear_scenarios"])),
            error=str(raw["error"]),
            covering=int(raw["covering"]),
            ran=int(raw["ran"]),
            stopped=int(raw["stopped"]),
            flows=None if flows is None else frozenset(map(str, flows)),
            reused=True,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Lane:
    """One mutant's runs to make: its flow set and its scenarios in rank order, each
    adapted to the mutant, beside the original's run of the same scenario."""

    mutant_id: str
    flows: FlowSetRef
    scenarios: tuple[Scenario, ...]
    originals: tuple[OriginalRun, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Outcome:
    scenario: str
    kills: tuple[str, ...] = ()
    timed_out: bool = False
    unclear: tuple[str, ...] = ()
    error: str = ""
    flows: frozenset[str] | None = frozenset()


def judge_run(run: RunResult, original: OriginalRun) -> tuple[list[str], list[str]]:
    """(kills, unclear checks) of one mutant run, against the original's run of the same
    scenario: only a check that held there can kill by failing, only a known defect the
    original showed can kill by going missing; what the original already fails is ignored."""
    already = {title for title, _ in original.already}
    kills: list[str] = []
    unclear: list[str] = []
    titles = {c.title for c in run.checks}
    for check in run.checks:
        if check.title in already:
            continue
        if check.inconclusive:
            unclear.append(f"{check.title} (lag {check.lag_ms:.0f} ms)")
        elif check.known_defect and check.passed and check.title in original.known_failed:
            kills.append(f"known defect no longer found: {check.title}")
        elif check.failed and not check.known_defect:
            kills.append(check.title)
    kills += [f"known defect no longer found: {t}" for t in sorted(original.known_failed - titles)]
    return kills, unclear


class _State:
    """One lane while it runs."""

    def __init__(self, lane: Lane, bail: bool) -> None:
        self.lane = lane
        self.bail = bail
        self.best: int | None = None  # the earliest rank that killed
        self.outcomes: dict[int, _Outcome] = {}
        self.tasks: dict[int, asyncio.Task[_Outcome]] = {}
        self.stopped = 0

    def wanted(self, rank: int) -> bool:
        return not (self.bail and self.best is not None and rank > self.best)

    def record(self, rank: int, outcome: _Outcome) -> None:
        self.outcomes[rank] = outcome
        if outcome.kills and (self.best is None or rank < self.best):
            self.best = rank
            if self.bail:
                for later, task in self.tasks.items():
                    if later > rank:
                        task.cancel()

    def trial(self) -> Trial:
        done = [self.outcomes[r] for r in sorted(self.outcomes)]
        flows: frozenset[str] | None = frozenset()
        for outcome in done:
            flows = None if flows is None or outcome.flows is None else flows | outcome.flows
        killers: tuple[str, ...] = ()
        if self.best is not None:
            killing = [self.outcomes[self.best]] if self.bail else [o for o in done if o.kills]
            killers = tuple(k for o in killing for k in o.kills)
        unclear = [o for o in done if o.unclear]
        return Trial(
            killed_by=killers,
            timed_out=self.best is not None and self.outcomes[self.best].timed_out,
            unclear=tuple(f"{o.scenario}: {u}" for o in unclear for u in o.unclear),
            unclear_scenarios=tuple(o.scenario for o in unclear),
            error=next((f"{o.scenario}: {o.error}" for o in done if o.error), ""),
            covering=len(self.lane.scenarios),
            ran=len(done),
            stopped=self.stopped,
            flows=flows,
        )


async def run_trials(
    lanes: Sequence[Lane],
    *,
    toxiproxy_url: str | None = None,
    run_id: str,
    max_parallel: int = 32,
    bail: bool = True,
    on_run: Callable[[RunResult], None] | None = None,
    on_call: Callable[[RunResult, CallResult], None] | None = None,
    on_lane: Callable[[str, Trial], None] | None = None,
    runner: Runner = run_scenario,
) -> dict[str, Trial]:
    """Every lane's runs, breadth first, at most `max_parallel` at once; mutant id -> Trial.
    `on_lane` sees each mutant's trial as soon as nothing of it is left to run; `runner`
    runs one scenario (`run_scenario`; in-process tests script their own)."""
    from harness.faults.toxiproxy import EmbeddedToxiproxy

    states = [_State(lane, bail) for lane in lanes]
    queue = [(r, i) for i, s in enumerate(states) for r in range(len(s.lane.scenarios))]
    heapq.heapify(queue)
    left = {i: len(s.lane.scenarios) for i, s in enumerate(states)}
    for i, count in left.items():
        if not count and on_lane is not None:
            on_lane(states[i].lane.mutant_id, states[i].trial())

    def settle(index: int) -> None:
        left[index] -= 1
        if not left[index] and on_lane is not None:
            on_lane(states[index].lane.mutant_id, states[index].trial())

    if not queue:
        return {s.lane.mutant_id: s.trial() for s in states}
    async with contextlib.AsyncExitStack() as stack:
        monitor = await stack.enter_async_context(LagMonitor())
        url = toxiproxy_url
        if url is None:
            server = EmbeddedToxiproxy(host="127.0.0.1", port=0)
            url = (await stack.enter_async_context(server)).url

        async def worker() -> None:
            while queue:
                rank_, index = heapq.heappop(queue)
                state = states[index]
                if not state.wanted(rank_):
                    state.stopped += 1
                    settle(index)
                    continue
                task = asyncio.create_task(
                    _one(state.lane, rank_, url, run_id, monitor, runner, on_run, on_call)
                )
                state.tasks[rank_] = task
                try:
                    await asyncio.wait({task})
                finally:
                    del state.tasks[rank_]
                    if not task.done():  # this worker was cancelled: so is its run
                        task.cancel()
                        await asyncio.gather(task, return_exceptions=True)
                if task.cancelled():
                    state.stopped += 1
                else:
                    state.record(rank_, task.result())
                settle(index)

        await asyncio.gather(*(worker() for _ in range(max(1, min(max_parallel, len(queue))))))
    return {s.lane.mutant_id: s.trial() for s in states}


async def _one(
    lane: Lane,
    rank_: int,
    url: str,
    run_id: str,
    monitor: LagMonitor,
    runner: Runner,
    on_run: Callable[[RunResult], None] | None,
    on_call: Callable[[RunResult, CallResult], None] | None,
) -> _Outcome:
    scenario, original = lane.scenarios[rank_], lane.originals[rank_]
    limit = time_limit_s(original.wall_ms)
    started = time.monotonic()
    run = asyncio.create_task(
        runner(
            scenario,
            lane.flows,
            toxiproxy_url=url,
            run_id=run_id,
            on_call=on_call,
            monitor=monitor,
        )
    )
    try:
        while True:
            # The limit stretches by the harness's own stall: an overloaded machine
            # slows every run, and that is no finding about the mutant.
            stalled, _ = monitor.stalled_s(started, time.monotonic())
            remaining = started + limit + stalled - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.wait({run}, timeout=remaining)
            if run.done():
                return _outcome(run, original, on_run)
    finally:
        if not run.done():
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
    held = time.monotonic() - started
    stall = f" + {stalled:.1f} s the harness stalled" if stalled >= 0.05 else ""
    return _Outcome(
        scenario=scenario.name,
        kills=(
            f"{scenario.name}: timeout, stopped after {held:.1f} s (the original took "
            f"{original.wall_ms / 1000:.1f} s; limit {limit:.1f} s{stall})",
        ),
        timed_out=True,
        flows=None,
    )


def _outcome(
    task: asyncio.Task[RunResult],
    original: OriginalRun,
    on_run: Callable[[RunResult], None] | None,
) -> _Outcome:
    try:
        run = task.result()
    except HarnessError as exc:  # a mutant whose entry flow is gone, say
        return _Outcome(scenario=original.scenario, error=str(exc), flows=None)
    if on_run is not None:
        on_run(run)
    name = original.scenario
    flows = frozenset(s.flow_id for c in (*run.calls, *run.jobs) for s in c.segments)
    if run.verdict == "error":
        return _Outcome(scenario=name, error=run.error, flows=flows)
    kills, unclear = judge_run(run, original)
    return _Outcome(
        scenario=name,
        kills=tuple(f"{name}: {k}" for k in kills[:_KILLERS_PER_RUN]),
        unclear=tuple(unclear),
        flows=flows,
    )
