"""Mutation testing of a flow set: which broken versions would the suite catch?

Mutation testing starts from green (`harness.scenario.original`): the scenarios run on
the unmutated flow set first, and only a check that held there can kill a mutant.
Every mutant (`harness.flow.mutants`) is then loaded as its own flow set, linted, and
run against the scenarios whose calls visited a step it changed, its first kill
stopping the rest of its runs (`harness.scenario.trials`). A mutant is

- **killed** when an error-level lint finding the original does not have appears, or
  a scenario check that held on the original fails on it, or a known defect the
  original shows goes missing (each killer is named; with bail, the first);
- **timeout** (killed too) when its earliest-ranked killing run was stopped for lasting
  far longer than the original's run of that scenario: a caller held far longer;
- **invalid** when it does not load or a run could not run: never counted as killed;
- **inconclusive** when nothing killed it but a check missed only by less than the
  harness's own measured lag (also after a calm second look, two runs at a time): the
  machine was too loaded to tell, so it is neither a kill nor a survivor;
- **equivalent** when nothing killed it and `ivr-harness diff` finds no behavioural
  difference from the original (no outcome class reaches another branch or terminal,
  no dead-air change) -- except for traps diff cannot see (a missing idempotency key);
- **survived** otherwise: the suite would not notice this breakage.

The score is (killed + timeout) / (killed + timeout + survived); invalid, inconclusive
and equivalent mutants are excluded. Survivors come with the scenario that would kill
them, from their trap.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence

from harness.errors import HarnessError
from harness.executor.timeline import CallResult
from harness.flow.mutants import changed_steps
from harness.scenario.incremental import Incremental, mutant_key, original_key
from harness.scenario.model import Scenario
from harness.scenario.mutant_prep import Prepared, prepare
from harness.scenario.mutant_verdict import (
    DETECTED,
    EXCLUDED,
    STATUSES,
    SUGGESTIONS,
    MutantResult,
    MutationReport,
    judge_mutant,
)
from harness.scenario.original import Original, run_original
from harness.scenario.runner import RunResult, new_run_id, run_scenario
from harness.scenario.trials import Lane, Runner, Trial, rank, run_trials

__all__ = [
    "DETECTED",
    "EXCLUDED",
    "STATUSES",
    "SUGGESTIONS",
    "MutantResult",
    "MutationReport",
    "Prepared",
    "judge",
    "prepare",
    "run_mutation",
    "reuse_original",
    "start_from_green",
]


def reuse_original(
    prepared: Prepared, scenarios: Sequence[Scenario], incremental: Incremental | None
) -> Original | None:
    """The original's run kept in `incremental`, when its flows and scenarios are unchanged."""
    if incremental is None:
        return None
    applicable = [s for s in scenarios if s.applies_to(prepared.flow_set)]
    return incremental.original(original_key(prepared.documents, applicable, {}))


async def start_from_green(
    prepared: Prepared,
    scenarios: Sequence[Scenario],
    *,
    incremental: Incremental | None = None,
    toxiproxy_url: str | None = None,
    max_parallel: int = 32,
    on_run: Callable[[RunResult], None] | None = None,
    on_call: Callable[[RunResult, CallResult], None] | None = None,
) -> Original:
    """The scenarios on the original flow set (or its run kept in `incremental`, when the
    flows and scenarios are unchanged): what the mutants are judged against."""
    if prepared.original is None:
        raise HarnessError("prepare() the mutants first: the original flow set is unknown")
    found = reuse_original(prepared, scenarios, incremental)
    if found is not None:
        return found
    applicable = [s for s in scenarios if s.applies_to(prepared.flow_set)]
    original = await run_original(
        prepared.original,
        applicable,
        toxiproxy_url=toxiproxy_url,
        max_parallel=max_parallel,
        on_run=on_run,
        on_call=on_call,
    )
    if incremental is not None:
        incremental.keep_original(original_key(prepared.documents, applicable, {}), original)
    return original


async def run_mutation(
    prepared: Prepared,
    scenarios: Sequence[Scenario],
    *,
    original: Original | None = None,
    toxiproxy_url: str | None = None,
    max_parallel: int = 32,
    bail: bool = True,
    coverage: bool = True,
    incremental: Incremental | None = None,
    on_run: Callable[[RunResult], None] | None = None,
    on_call: Callable[[RunResult, CallResult], None] | None = None,
    on_mutant: Callable[[MutantResult], None] | None = None,
    runner: Runner = run_scenario,
) -> MutationReport:
    """Judge every prepared mutant: the original first (unless given), then each mutant
    against the scenarios that cover it, stopped at its first kill unless `bail` is
    false; `coverage=False` runs every scenario on every mutant."""
    applicable = [s for s in scenarios if s.applies_to(prepared.flow_set)]
    if original is None:
        original = await start_from_green(
            prepared,
            applicable,
            incremental=incremental,
            toxiproxy_url=toxiproxy_url,
            max_parallel=max_parallel,
            on_run=on_run,
            on_call=on_call,
        )
    started = time.monotonic()  # the mutants' own time; the original's is its own
    options = {"bail": bail, "coverage": coverage}
    plan = _Plan(prepared, applicable, original, options, incremental)
    trials: dict[str, Trial] = {}
    lanes: list[Lane] = []
    for mutant_id in prepared.loaded:
        lane, done = plan.lane(mutant_id)
        if done is None:
            lanes.append(lane)
            continue
        trials[mutant_id] = done
        if on_mutant is not None:
            on_mutant(plan.judge(mutant_id, done))
    run_id = new_run_id()

    def settled(mutant_id: str, trial: Trial) -> None:
        if on_mutant is not None:
            on_mutant(plan.judge(mutant_id, trial))

    ran = await run_trials(
        lanes,
        toxiproxy_url=toxiproxy_url,
        run_id=run_id,
        max_parallel=max_parallel,
        bail=bail,
        on_run=on_run,
        on_call=on_call,
        on_lane=settled,
        runner=runner,
    )
    calm = await _calm_second_look(plan, ran, lanes, toxiproxy_url, f"{run_id}-calm", runner)
    for mutant_id, trial in calm.items():
        settled(mutant_id, trial)  # judged again, after its second look
    ran.update(calm)
    for mutant_id, trial in ran.items():
        plan.remember(mutant_id, trial)
    trials.update(ran)
    report = judge(prepared, trials, scenarios=len(applicable), original=original)
    report.options = options
    report.wall_ms = (time.monotonic() - started) * 1000
    return report


_CALM_PARALLEL = 2


async def _calm_second_look(
    plan: _Plan,
    trials: Mapping[str, Trial],
    lanes: Sequence[Lane],
    toxiproxy_url: str | None,
    run_id: str,
    runner: Runner,
) -> dict[str, Trial]:
    """An inconclusive mutant's unclear runs once more, two at a time, so the harness is
    no longer its own noise; what is still unclear stays inconclusive."""
    again: list[Lane] = []
    for lane in lanes:
        trial = trials[lane.mutant_id]
        if plan.judge(lane.mutant_id, trial).status != "inconclusive":
            continue
        keep = [i for i, s in enumerate(lane.originals) if s.scenario in trial.unclear_scenarios]
        again.append(
            dataclasses.replace(
                lane,
                scenarios=tuple(lane.scenarios[i] for i in keep),
                originals=tuple(lane.originals[i] for i in keep),
            )
        )
    if not again:
        return {}
    second = await run_trials(
        again,
        toxiproxy_url=toxiproxy_url,
        run_id=run_id,
        max_parallel=_CALM_PARALLEL,
        runner=runner,
    )
    merged = {}
    for mutant_id, later in second.items():
        first = trials[mutant_id]
        flows = None if first.flows is None or later.flows is None else first.flows | later.flows
        merged[mutant_id] = dataclasses.replace(
            later,
            error=first.error or later.error,
            covering=first.covering,
            ran=first.ran + later.ran,
            stopped=first.stopped,
            flows=flows,
        )
    return merged


class _Plan:
    """What each mutant runs against, and what an earlier run already found for it."""

    def __init__(
        self,
        prepared: Prepared,
        scenarios: Sequence[Scenario],
        original: Original,
        options: Mapping[str, bool],
        incremental: Incremental | None,
    ) -> None:
        self.prepared = prepared
        self.scenarios = scenarios
        self.original = original
        self.options = options
        self.incremental = incremental
        self.keys: dict[str, str] = {}
        self.flows: dict[str, set[str]] = {}  # mutant id -> flows its covering runs went through

    def lane(self, mutant_id: str) -> tuple[Lane, Trial | None]:
        """The mutant's lane, and its trial when nothing needs to run (a lint kill with
        bail on, or a verdict reused from the incremental file)."""
        mutant, ref, lint = self.prepared.loaded[mutant_id]
        touched = changed_steps(self.prepared.documents, mutant.documents)
        usable = [
            self.original.runs[s.name]
            for s in self.scenarios
            if s.name in self.original.runs and not self.original.runs[s.name].error
        ]
        if self.options["coverage"]:
            usable = [run for run in usable if run.covers(touched)]
        ordered = rank(usable)
        by_name = {s.name: s for s in self.scenarios}
        lane = Lane(
            mutant_id=mutant_id,
            flows=ref,
            scenarios=tuple(
                _adapt(by_name[r.scenario], mutant_id, self.prepared.flow_set) for r in ordered
            ),
            originals=tuple(ordered),
        )
        self.flows[mutant_id] = {f for r in ordered for f in r.flows}
        if lint and self.options["bail"]:
            return lane, Trial(covering=len(ordered), stopped=len(ordered))
        if self.incremental is None:
            return lane, None
        covering = [by_name[r.scenario] for r in ordered]
        key = mutant_key(mutant, covering, self.original, self.options)
        self.keys[mutant_id] = key
        return lane, self.incremental.trial(key, mutant)

    def remember(self, mutant_id: str, trial: Trial) -> None:
        if self.incremental is None or mutant_id not in self.keys:
            return
        mutant = self.prepared.loaded[mutant_id][0]
        flows = None if trial.flows is None else self.flows[mutant_id] | trial.flows
        self.incremental.keep(self.keys[mutant_id], mutant, trial, flows)

    def judge(self, mutant_id: str, trial: Trial) -> MutantResult:
        mutant, _, lint = self.prepared.loaded[mutant_id]
        return judge_mutant(mutant, lint, trial, self.prepared.changed.get(mutant_id, True))


def _adapt(scenario: Scenario, mutant_id: str, original: str) -> Scenario:
    # The mutant stands in for the original flow set: the same scenario, the same known
    # defects, so only what the mutation changed can fail.
    return dataclasses.replace(
        scenario,
        flows=(mutant_id,),
        known_defects={mutant_id: scenario.known_defects.get(original, ())},
    )


def judge(
    prepared: Prepared,
    trials: Mapping[str, Trial],
    *,
    scenarios: int,
    original: Original | None = None,
) -> MutationReport:
    """Each prepared mutant judged from its lint findings and its trial (mutant id -> what
    its runs found; a mutant without one ran nothing)."""
    report = MutationReport(
        flow_set=prepared.flow_set, scenarios=scenarios, seed=prepared.seed, original=original
    )
    report.results = list(prepared.invalid) + [
        judge_mutant(
            mutant, lint, trials.get(mutant.id, Trial()), prepared.changed.get(mutant.id, True)
        )
        for mutant, _, lint in prepared.loaded.values()
    ]
    report.results.sort(key=lambda r: r.mutant.id)
    return report
