"""The unmutated flow set's own run: mutation testing starts from green.

Like Stryker's initial test run, `mutate` first runs every scenario on the original
flow set. That run decides three things for every mutant after it:

- **what can kill**: a check that held on the original can kill a mutant by failing,
  and a known defect the original shows can kill one by going missing. A check that
  failed or was inconclusive on the original, a known defect the original does not
  show, and a scenario that could not run at all kill nothing: the suite was already
  red (or blind) there, so a mutant failing it proves nothing. Each is listed once,
  as "the original already fails this".
- **coverage**: the (flow, step) pairs the calls and the scheduled jobs of each
  scenario visited. A mutant is run only against the scenarios that visited a step
  it changed (`harness.scenario.trials` says why the rest cannot kill it).
- **the time limit** of a mutant's run of each scenario, from its wall time here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.executor.timeline import CallResult
from harness.scenario.model import Scenario
from harness.scenario.runner import FlowSetRef, RunResult, run_suite

__all__ = ["RED_VERDICTS", "Original", "OriginalRun", "run_original"]

# Verdicts of an original run that make the suite red before any mutant: `--min-score`
# refuses to score over them.
RED_VERDICTS = ("fail", "unexpected_pass", "error")

Step = tuple[str, str]  # (flow id, step id)


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginalRun:
    """One scenario on the original flow set, as the mutants are judged against it."""

    scenario: str
    verdict: str
    wall_ms: float
    visited: frozenset[Step] = frozenset()
    held: frozenset[str] = frozenset()  # checks that held: failing one kills a mutant
    known_failed: frozenset[str] = frozenset()  # known defects shown: losing one kills
    already: tuple[tuple[str, str], ...] = ()  # (check title, why): these kill nothing
    error: str = ""

    @property
    def flows(self) -> frozenset[str]:
        """The flows its calls and jobs went through."""
        return frozenset(flow for flow, _ in self.visited)

    def covers(self, steps: frozenset[Step] | None) -> bool:
        """Whether a call or job of this run visited one of `steps` (None: any change)."""
        return steps is None or not steps.isdisjoint(self.visited)

    @classmethod
    def of(cls, run: RunResult) -> OriginalRun:
        visited = frozenset(
            (s.flow_id, s.step_id) for call in (*run.calls, *run.jobs) for s in call.segments
        )
        common: dict[str, Any] = {
            "scenario": run.scenario.name,
            "verdict": run.verdict,
            "wall_ms": run.wall_ms,
            "visited": visited,
        }
        if run.verdict == "error":
            return cls(**common, already=(("", f"could not run: {run.error}"),), error=run.error)
        held: set[str] = set()
        known_failed: set[str] = set()
        already: dict[str, str] = {}
        for check in run.checks:
            if check.inconclusive:
                already[check.title] = f"inconclusive: {check.actual}"
            elif check.known_defect and check.failed:
                known_failed.add(check.title)
            elif check.known_defect:
                already[check.title] = "a known defect the original does not show"
            elif check.passed:
                held.add(check.title)
            else:
                already[check.title] = f"fails: {check.actual}"
        for title in run.cleared_defects():
            already.setdefault(title, "a known defect the original does not show")
        return cls(
            **common,
            held=frozenset(held - set(already)),
            known_failed=frozenset(known_failed - set(already)),
            already=tuple(sorted(already.items())),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "verdict": self.verdict,
            "wall_ms": round(self.wall_ms, 3),
            "visited": sorted(list(step) for step in self.visited),
            "held": sorted(self.held),
            "known_failed": sorted(self.known_failed),
            "already": [list(pair) for pair in self.already],
            "error": self.error,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> OriginalRun:
        return cls(
            scenario=str(raw["scenario"]),
            verdict=str(raw["verdict"]),
            wall_ms=float(raw["wall_ms"]),
            visited=frozenset((str(f), str(s)) for f, s in raw["visited"]),
            held=frozenset(map(str, raw["held"])),
            known_failed=frozenset(map(str, raw["known_failed"])),
            already=tuple((str(t), str(w)) for t, w in raw["already"]),
            error=str(raw["error"]),
        )


@dataclass(frozen=True, kw_only=True)
class Original:
    """Every scenario's run on the original flow set."""

    flow_set: str
    runs: Mapping[str, OriginalRun] = field(default_factory=dict)  # scenario name -> its run
    wall_ms: float = 0.0
    reused: bool = False  # taken from an --incremental file, not run again

    def already_failing(self) -> list[tuple[str, str, str]]:
        """(scenario, check title, why) for every check that kills no mutant."""
        return [(name, title, why) for name, run in self.runs.items() for title, why in run.already]

    def red(self) -> list[OriginalRun]:
        """The runs that turn the suite red on the original (`RED_VERDICTS`)."""
        return [run for run in self.runs.values() if run.verdict in RED_VERDICTS]

    def to_json(self) -> dict[str, Any]:
        return {
            "flow_set": self.flow_set,
            "wall_ms": round(self.wall_ms, 3),
            "reused": self.reused,
            "runs": [run.to_json() for run in self.runs.values()],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Original:
        runs = [OriginalRun.from_json(r) for r in raw["runs"]]
        return cls(
            flow_set=str(raw["flow_set"]),
            runs={r.scenario: r for r in runs},
            wall_ms=float(raw["wall_ms"]),
        )


def summarise(flow_set: str, runs: Iterable[RunResult], wall_ms: float) -> Original:
    """The original's runs as the mutants are judged against them."""
    return Original(
        flow_set=flow_set, runs={r.scenario.name: OriginalRun.of(r) for r in runs}, wall_ms=wall_ms
    )


async def run_original(
    flows: FlowSetRef,
    scenarios: Sequence[Scenario],
    *,
    toxiproxy_url: str | None = None,
    max_parallel: int = 32,
    on_run: Callable[[RunResult], None] | None = None,
    on_call: Callable[[RunResult, CallResult], None] | None = None,
) -> Original:
    """Every scenario that applies to `flows`, on `flows` itself (one concurrent suite)."""
    applicable = [s for s in scenarios if s.applies_to(flows.name)]
    suite = await run_suite(
        applicable,
        [flows],
        toxiproxy_url=toxiproxy_url,
        max_parallel=max_parallel,
        on_run=on_run,
        on_call=on_call,
    )
    return summarise(flows.name, suite.runs, suite.wall_ms)
