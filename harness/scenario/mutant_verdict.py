"""What `mutate` decides about each mutant: its status, its killers, the score.

See `harness.scenario.mutation` for what each status means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.flow.mutants import Mutant
from harness.scenario.original import Original
from harness.scenario.trials import Trial

__all__ = [
    "DETECTED",
    "EXCLUDED",
    "STATUSES",
    "SUGGESTIONS",
    "MutantResult",
    "MutationReport",
    "judge_mutant",
]

# Statuses that count as caught, and those left out of the score (the suite could not
# judge these mutants either way).
DETECTED = ("killed", "timeout")
EXCLUDED = ("inconclusive", "invalid", "equivalent")
STATUSES = (*DETECTED, "survived", *EXCLUDED)

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
    status: str  # one of STATUSES
    killed_by: tuple[str, ...] = ()
    error: str = ""
    # The checks that missed only by less than the measured lag (status inconclusive).
    inconclusive: tuple[str, ...] = ()
    covering: int = 0  # scenarios whose original calls visited a step it changed
    runs: int = 0  # of those, the runs made (the rest stopped at its first kill)
    reused: bool = False  # its runs' verdict came from an --incremental file

    @property
    def suggestion(self) -> str:
        if self.status != "survived":
            return ""
        if not self.covering:
            return f"a scenario whose calls reach {self.mutant.step_id} at all"
        return SUGGESTIONS.get(self.mutant.trap, "")


@dataclass(kw_only=True)
class MutationReport:
    flow_set: str
    results: list[MutantResult] = field(default_factory=list)
    scenarios: int = 0
    wall_ms: float = 0.0
    seed: int = 0
    original: Original | None = None
    options: Mapping[str, bool] = field(default_factory=dict)  # bail, coverage
    incomplete: str = ""  # why the run stopped early; only mutants fully run are judged

    @property
    def total_ms(self) -> float:
        """The mutants' wall time plus the original's, unless that was reused."""
        ran = self.original is not None and not self.original.reused
        return self.wall_ms + (self.original.wall_ms if ran and self.original else 0.0)

    def counted(self, results: Sequence[MutantResult] | None = None) -> list[MutantResult]:
        chosen = self.results if results is None else results
        return [r for r in chosen if r.status not in EXCLUDED]

    def score(self, results: Sequence[MutantResult] | None = None) -> float:
        """Killed (timeouts included) over killed + survived (1.0 when nothing counts)."""
        counted = self.counted(results)
        caught = sum(r.status in DETECTED for r in counted)
        return caught / len(counted) if counted else 1.0

    def by(self, key: Callable[[MutantResult], str]) -> dict[str, float]:
        groups: dict[str, list[MutantResult]] = {}
        for result in self.results:
            groups.setdefault(key(result), []).append(result)
        return {name: self.score(group) for name, group in sorted(groups.items())}

    def to_json(self) -> dict[str, Any]:
        original = self.original
        return {
            "flow_set": self.flow_set,
            "seed": self.seed,
            "scenarios": self.scenarios,
            "wall_ms": round(self.wall_ms, 3),  # the mutants'
            "total_wall_ms": round(self.total_ms, 3),  # the original's too, when it ran
            "options": dict(self.options),
            "score": round(self.score(), 4),
            "counts": {
                status: sum(r.status == status for r in self.results) for status in STATUSES
            },
            "complete": not self.incomplete,
            "incomplete_reason": self.incomplete,
            "runs": sum(r.runs for r in self.results if not r.reused),
            "reused": sum(r.reused for r in self.results),
            "original": None
            if original is None
            else {
                "wall_ms": round(original.wall_ms, 3),
                "reused": original.reused,
                "red": [r.scenario for r in original.red()],
                "already_failing": [
                    {"scenario": name, "check": title, "why": why}
                    for name, title, why in original.already_failing()
                ],
            },
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
                    "covering_scenarios": r.covering,
                    "runs": r.runs,
                    "reused": r.reused,
                }
                for r in self.results
            ],
        }


def judge_mutant(
    mutant: Mutant, lint: tuple[str, ...], trial: Trial, changed: bool
) -> MutantResult:
    """A mutant's status from its new lint errors, its trial and whether diff sees a change."""
    common: dict[str, Any] = {
        "mutant": mutant,
        "covering": trial.covering,
        "runs": trial.ran,
        "reused": trial.reused,
    }
    # The lint is the earliest-ranked killer of all: it needs no run.
    killers = (*(f"lint {rule}" for rule in lint), *trial.killed_by)
    if killers:
        status = "timeout" if trial.timed_out and not lint else "killed"
        return MutantResult(**common, status=status, killed_by=killers)
    if trial.error:
        return MutantResult(**common, status="invalid", error=trial.error)
    if trial.unclear:
        return MutantResult(**common, status="inconclusive", inconclusive=trial.unclear)
    if not changed:
        return MutantResult(**common, status="equivalent")
    return MutantResult(**common, status="survived")
