"""Mutation testing of a flow set: which broken versions would the suite catch?

Every mutant (`harness.flow.mutants`) is loaded as its own flow set, linted, and run
through the suite's scenarios beside the others, in one concurrent suite. A mutant is

- **killed** when an error-level lint finding the original does not have appears, or
  a scenario check that holds on the original fails on it (each killer is named);
- **invalid** when it does not load or a run could not run: never counted as killed;
- **inconclusive** when nothing killed it but a check missed only by less than the
  harness's own measured lag (also after the suite's automatic rerun): the machine was
  too loaded to tell, so it is neither a kill nor a survivor;
- **equivalent** when nothing killed it and `ivr-harness diff` finds no behavioural
  difference from the original (no outcome class reaches another branch or terminal,
  no dead-air change) -- except for traps diff cannot see (a missing idempotency key);
- **survived** otherwise: the suite would not notice this breakage.

A kill is what turns the suite red: a check that failed for real, or a known defect of
the original that the mutant no longer shows (an unexpected pass). The score is
killed / (killed + survived); invalid, inconclusive and equivalent mutants are
excluded. Survivors come with the scenario that would kill them, from their trap.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.executor.timeline import CallResult
from harness.flow.diff import diff_flow_sets
from harness.flow.lint import lint_flow_set
from harness.flow.loader import load_flow_set
from harness.flow.model import FlowSet
from harness.flow.mutants import Mutant, mutants, sample
from harness.inputs import parse_json, read_text
from harness.scenario.model import Scenario
from harness.scenario.runner import FlowSetRef, RunResult, run_suite

# Traps whose effect is outside what diff compares (routes and dead air).
_DIFF_BLIND = frozenset({"post-retried-without-idempotency-key"})

__all__ = [
    "EXCLUDED",
    "SUGGESTIONS",
    "MutantResult",
    "MutationReport",
    "Prepared",
    "judge",
    "prepare",
    "run_mutation",
]

# Statuses left out of the score: the suite could not judge these mutants either way.
EXCLUDED = ("inconclusive", "invalid", "equivalent")

# What would kill a survivor of each trap: the scenario to add.
SUGGESTIONS = {
    "timeout-removed": "latency over the step's timeout with a dead-air bound "
    "(like latency-over-timeout.yaml: dead_air_max_ms)",
    "timeout-raised": "latency past the intended timeout with a dead-air bound",
    "retries-widened": "a 5xx storm that counts requests (expect: requests: {backend, max})",
    "retry-on-4xx": "a 404 or 403 that counts requests (expect: requests: {backend, max: 1})",
    "post-retried-without-idempotency-key": "a 503 then 201 on the POST that checks the "
    "Idempotency-Key header reaches the backend",
    "breaker-dropped": "a 5xx storm where later calls must skip HTTP (outcome circuit_open)",
    "breaker-threshold-raised": "a 5xx storm where the breaker must open after 3 failures",
    "router-branches-swapped": "one scenario per branch of the router (each outcome class)",
    "router-default-removed": "an outcome no condition matches (e.g. 418) expecting the fallback",
    "mapping-null-guard-dropped": 'an empty array ({"data": []}) expecting the no-match branch',
    "progress-prompt-removed": "a 202 hold with a silence bound (dead_air_max_ms)",
}
for _name in ("timeout", "401-403", "404", "5xx", "202", "circuit_open"):
    SUGGESTIONS[f"{_name}-to-success"] = (
        f"a {_name} fault expecting the caller never reaches the success branch"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MutantResult:
    mutant: Mutant
    status: str  # killed | survived | inconclusive | invalid | equivalent
    killed_by: tuple[str, ...] = ()
    error: str = ""
    # The checks that missed only by less than the measured lag (status inconclusive).
    inconclusive: tuple[str, ...] = ()

    @property
    def suggestion(self) -> str:
        return SUGGESTIONS.get(self.mutant.trap, "") if self.status == "survived" else ""


@dataclass(kw_only=True)
class MutationReport:
    flow_set: str
    results: list[MutantResult] = field(default_factory=list)
    scenarios: int = 0
    wall_ms: float = 0.0
    seed: int = 0
    incomplete: str = ""  # why the run stopped early; only mutants fully run are judged

    def counted(self, results: Sequence[MutantResult] | None = None) -> list[MutantResult]:
        chosen = self.results if results is None else results
        return [r for r in chosen if r.status not in EXCLUDED]

    def score(self, results: Sequence[MutantResult] | None = None) -> float:
        """Killed over killed + survived (1.0 when nothing counts)."""
        counted = self.counted(results)
        killed = sum(r.status == "killed" for r in counted)
        return killed / len(counted) if counted else 1.0

    def by(self, key: Callable[[MutantResult], str]) -> dict[str, float]:
        groups: dict[str, list[MutantResult]] = {}
        for result in self.results:
            groups.setdefault(key(result), []).append(result)
        return {name: self.score(group) for name, group in sorted(groups.items())}

    def to_json(self) -> dict[str, Any]:
        return {
            "flow_set": self.flow_set,
            "seed": self.seed,
            "scenarios": self.scenarios,
            "wall_ms": round(self.wall_ms, 3),
            "score": round(self.score(), 4),
            "counts": {
                status: sum(r.status == status for r in self.results)
                for status in ("killed", "survived", *EXCLUDED)
            },
            "complete": not self.incomplete,
            "incomplete_reason": self.incomplete,
            "score_by_flow": self.by(lambda r: r.mutant.flow_id),
            "score_by_trap": self.by(lambda r: r.mutant.trap),
            "mutants": [
                {
                    "id": r.mutant.id,
                    "trap": r.mutant.trap,
                    "flow_id": r.mutant.flow_id,
                    "step_id": r.mutant.step_id,
                    "change": r.mutant.change(),
                    "status": r.status,
                    "killed_by": list(r.killed_by),
                    "error": r.error,
                    "inconclusive": list(r.inconclusive),
                    "suggestion": r.suggestion,
                }
                for r in self.results
            ],
        }


@dataclass(kw_only=True)
class Prepared:
    """Mutants written to disk and linted, ready for the suite."""

    flow_set: str
    seed: int
    loaded: dict[str, tuple[Mutant, FlowSetRef, tuple[str, ...]]]
    invalid: list[MutantResult]
    changed: dict[str, bool] = field(default_factory=dict)  # mutant id -> diff sees a change


def prepare(
    flow_dir: Path,
    folder: Path,
    *,
    size: int | None = None,
    seed: int = 0,
    dead_air_ms: int = 8000,
    extra: Sequence[Mutant] = (),
    lint: bool = True,
) -> Prepared:
    """Every (or a seeded sample of) mutant of the flow set in `flow_dir`, plus `extra`
    mutants of the caller's own, written under `folder` and (unless `lint` is false, to
    judge the scenarios alone) linted against the original's lint errors."""
    original = load_flow_set(flow_dir)
    documents = {
        p.name: parse_json(read_text(p, what="flow"), file=p)
        for p in sorted(flow_dir.glob("*.json"))
    }
    chosen = sample(list(mutants(original, documents)), size, seed) + list(extra)
    baseline = _lint_errors(original, dead_air_ms) if lint else set()
    prepared = Prepared(flow_set=flow_dir.name, seed=seed, loaded={}, invalid=[])
    for mutant in chosen:
        try:
            flows = _load(folder / mutant.id, mutant.documents)
        except HarnessError as exc:
            prepared.invalid.append(MutantResult(mutant=mutant, status="invalid", error=str(exc)))
            continue
        found = _lint_errors(flows, dead_air_ms) if lint else set()
        ref = FlowSetRef(name=mutant.id, path=folder / mutant.id, flows=flows)
        prepared.loaded[mutant.id] = (mutant, ref, tuple(sorted(found - baseline)))
        changes = diff_flow_sets(original, flows, budget_ms=dead_air_ms).changes
        prepared.changed[mutant.id] = bool(changes) or mutant.trap in _DIFF_BLIND
    return prepared


async def run_mutation(
    prepared: Prepared,
    scenarios: Sequence[Scenario],
    *,
    toxiproxy_url: str | None = None,
    max_parallel: int = 32,
    on_run: Callable[[RunResult], None] | None = None,
    on_call: Callable[[RunResult, CallResult], None] | None = None,
) -> MutationReport:
    """Run the suite's scenarios on every prepared mutant and judge each one."""
    started = time.monotonic()
    applicable = [s for s in scenarios if s.applies_to(prepared.flow_set)]
    runs = await _suite(
        applicable,
        prepared.flow_set,
        prepared.loaded,
        toxiproxy_url,
        max_parallel,
        on_run,
        on_call,
    )
    report = judge(prepared, runs, scenarios=len(applicable))
    unclear = [r.mutant.id for r in report.results if r.status == "inconclusive"]
    if unclear:
        # A calm second look: only the unclear runs of those mutants, two at a time, so
        # the harness is no longer its own noise; what is still unclear stays inconclusive.
        for mutant_id, again in (
            await _rerun_unclear(applicable, prepared, runs, unclear, toxiproxy_url)
        ).items():
            runs[mutant_id] = [
                *(r for r in runs[mutant_id] if r.verdict != "inconclusive"),
                *again,
            ]
        report = judge(prepared, runs, scenarios=len(applicable))
    report.wall_ms = (time.monotonic() - started) * 1000
    return report


_CALM_PARALLEL = 2


async def _rerun_unclear(
    scenarios: Sequence[Scenario],
    prepared: Prepared,
    runs: Mapping[str, Sequence[RunResult]],
    unclear: Sequence[str],
    toxiproxy_url: str | None,
) -> dict[str, list[RunResult]]:
    out: dict[str, list[RunResult]] = {}
    for mutant_id in unclear:
        names = {r.scenario.name for r in runs[mutant_id] if r.verdict == "inconclusive"}
        again = await _suite(
            [s for s in scenarios if s.name in names],
            prepared.flow_set,
            {mutant_id: prepared.loaded[mutant_id]},
            toxiproxy_url,
            _CALM_PARALLEL,
            None,
            None,
        )
        out[mutant_id] = again.get(mutant_id, [])
    return out


def judge(
    prepared: Prepared, runs: Mapping[str, Sequence[RunResult]], *, scenarios: int
) -> MutationReport:
    """Each prepared mutant judged from its lint findings and its suite runs (mutant id ->
    the runs of the scenarios on it, each after the suite's reruns)."""
    report = MutationReport(flow_set=prepared.flow_set, scenarios=scenarios, seed=prepared.seed)
    report.results = list(prepared.invalid) + [
        _judge(mutant, lint, runs.get(mutant.id, []), prepared.changed.get(mutant.id, True))
        for mutant, _, lint in prepared.loaded.values()
    ]
    report.results.sort(key=lambda r: r.mutant.id)
    return report


def _load(folder: Path, documents: Mapping[str, Any]) -> FlowSet:
    folder.mkdir(parents=True)
    for name, document in documents.items():
        (folder / name).write_text(json.dumps(document, indent=2), encoding="utf-8")
    return load_flow_set(folder)


def _lint_errors(flows: FlowSet, dead_air_ms: int) -> set[str]:
    findings = lint_flow_set(flows, dead_air_budget_ms=dead_air_ms)
    return {f"{f.rule_id} {f.rule.name}" for f in findings if f.severity == "error"}


async def _suite(
    scenarios: Sequence[Scenario],
    original: str,
    loaded: Mapping[str, tuple[Mutant, FlowSetRef, tuple[str, ...]]],
    toxiproxy_url: str | None,
    max_parallel: int,
    on_run: Callable[[RunResult], None] | None,
    on_call: Callable[[RunResult, CallResult], None] | None,
) -> dict[str, list[RunResult]]:
    if not loaded or not scenarios:
        return {}
    names = tuple(loaded)
    # Each mutant stands in for the original flow set: the same scenarios, the same
    # known defects, so only what the mutation changed can fail.
    adapted = [
        dataclasses.replace(
            s,
            flows=names,
            known_defects={n: s.known_defects.get(original, ()) for n in names},
        )
        for s in scenarios
    ]
    suite = await run_suite(
        adapted,
        [ref for _, ref, _ in loaded.values()],
        toxiproxy_url=toxiproxy_url,
        max_parallel=max_parallel,
        on_run=on_run,
        on_call=on_call,
    )
    runs: dict[str, list[RunResult]] = {}
    for run in suite.runs:
        runs.setdefault(run.flow_set, []).append(run)
    return runs


def _judge(
    mutant: Mutant, lint: tuple[str, ...], runs: Sequence[RunResult], changed: bool
) -> MutantResult:
    errors = [r for r in runs if r.verdict == "error"]
    killers = [f"lint {rule}" for rule in lint]
    for run in runs:
        if run.verdict in ("fail", "unexpected_pass"):
            # Only what turns the suite red: a check failed for real (never one missed
            # within the measured lag), or a known defect the mutant no longer shows.
            failed = [c.title for c in run.checks if c.failed and not c.known_defect]
            failed += [f"known defect no longer found: {t}" for t in run.cleared_defects()]
            killers += [f"{run.scenario.name}: {title}" for title in failed[:3]]
    if killers:
        return MutantResult(mutant=mutant, status="killed", killed_by=tuple(killers))
    if errors:
        return MutantResult(mutant=mutant, status="invalid", error=errors[0].error)
    unclear = [
        f"{run.scenario.name}: {c.title} (lag {c.lag_ms:.0f} ms)"
        for run in runs
        for c in run.checks
        if c.inconclusive
    ]
    if unclear:
        return MutantResult(mutant=mutant, status="inconclusive", inconclusive=tuple(unclear))
    if not changed:
        return MutantResult(mutant=mutant, status="equivalent")
    return MutantResult(mutant=mutant, status="survived")
