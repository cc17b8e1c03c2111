"""A suite run as `results.json`: the stable, documented schema `ivr-harness/results/v1`.

`contracts/schemas/results.schema.json` validates the output and `docs/results.md`
describes it field by field. Fields are only ever added within v1; a rename or a
removal bumps the version, so dashboards and CI scripts can rely on the shape.
The other reports (JUnit, HTML, Markdown) read the same derived facts from here,
so every report tells the same story.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.events import Event
from harness.flow.profile import CXONE, PlatformProfile
from harness.scenario.expectations import error_windows
from harness.scenario.runner import RunResult, SuiteResult
from harness.scenario.verdict import suite_exit_code

__all__ = [
    "SCHEMA_ID",
    "VERDICTS",
    "BreakerMove",
    "breaker_history",
    "exit_code",
    "known_defects_cleared",
    "run_json",
    "suite_json",
    "to_results",
]

SCHEMA_ID = "ivr-harness/results/v1"
VERDICTS = ("pass", "fail", "expected_failure", "unexpected_pass", "inconclusive", "error")


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerMove:
    """One breaker transition, on the run's clock."""

    key: str
    t_ms: float
    old: str
    new: str
    call_id: str
    step_id: str


def breaker_history(events: Iterable[Event]) -> dict[str, list[BreakerMove]]:
    """Transitions per breaker key, in the order they happened."""
    history: dict[str, list[BreakerMove]] = {}
    for event in events:
        if event.kind != "breaker":
            continue
        key = str(event.data.get("key", ""))
        history.setdefault(key, []).append(
            BreakerMove(
                key=key,
                t_ms=event.t_ms,
                old=str(event.data.get("old", "")),
                new=str(event.data.get("new", "")),
                call_id=event.call_id,
                step_id=event.step_id,
            )
        )
    return history


def known_defects_cleared(run: RunResult) -> list[str]:
    """Known defects of this flow set that the run no longer detects (why it is unexpected_pass)."""
    failed = {c.title for c in run.failures()}
    return [t for t in run.scenario.known_defects.get(run.flow_set, ()) if t not in failed]


def exit_code(verdict: str) -> int:
    """The CLI's exit code for a suite verdict: 0 all held (or inconclusive), 1 failed, 2 error."""
    return suite_exit_code(verdict)


def _counts(runs: Sequence[RunResult]) -> dict[str, int]:
    counts = {v: 0 for v in VERDICTS}
    for run in runs:
        counts[run.verdict] = counts.get(run.verdict, 0) + 1
    return {"runs": len(runs), **counts}


def _scenario_file(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:  # outside the working tree: keep it absolute
        return path.as_posix()


def _jsonable(value: Any) -> Any:
    # Segment details and fault logs are open mappings; this guarantees plain JSON types.
    return json.loads(json.dumps(value, default=str))


def _windows(run: RunResult, profile: PlatformProfile) -> list[dict[str, Any]]:
    return [
        {**w, "rate": round(w["rate"], 6), "over_threshold": w["rate"] > profile.alert_error_rate}
        for w in error_windows(run.events, profile.alert_window_ms)
    ]


def run_json(run: RunResult, profile: PlatformProfile = CXONE) -> dict[str, Any]:
    """One scenario x flow set run as its results.json entry."""
    failed = run.failures()
    return {
        "id": run.id,
        "scenario": run.scenario.name,
        "scenario_file": _scenario_file(run.scenario.path),
        "description": run.scenario.description.strip(),
        "tags": list(run.scenario.tags),
        "flow_set": run.flow_set,
        "entry": run.scenario.entry,
        "verdict": run.verdict,
        "ok": run.ok,
        "error": run.error,
        "wall_ms": round(run.wall_ms, 3),
        "alert": run.alert,
        "harness_lag": {"total_ms": round(run.lag_ms, 1), "longest_ms": round(run.lag_max_ms, 1)},
        "reruns": _jsonable(run.reruns),
        "summary": {
            "checks": len(run.checks),
            "passed": len(run.checks) - len(failed),
            "failed": len(failed),
            "known_defects_failed": sum(1 for c in failed if c.known_defect),
            "calls": len(run.calls),
            "events": len(run.events),
        },
        "known_defects": list(run.scenario.known_defects.get(run.flow_set, ())),
        "known_defects_cleared": known_defects_cleared(run)
        if run.verdict == "unexpected_pass"
        else [],
        "checks": [c.to_json() for c in run.checks],
        "faults": _jsonable(run.faults),
        "calls": _jsonable([c.to_json() for c in run.calls]),
        "breakers": [
            {
                "key": key,
                "transitions": [
                    {
                        "t_ms": m.t_ms,
                        "old": m.old,
                        "new": m.new,
                        "call_id": m.call_id,
                        "step_id": m.step_id,
                    }
                    for m in moves
                ],
            }
            for key, moves in breaker_history(run.events).items()
        ],
        "error_windows": _windows(run, profile),
    }


def suite_json(suite: SuiteResult, profile: PlatformProfile = CXONE) -> dict[str, Any]:
    """The whole suite as the results.json document (schema `ivr-harness/results/v1`)."""
    return {
        "schema": SCHEMA_ID,
        "run_id": suite.run_id,
        "started_at": suite.started_at,
        "wall_ms": round(suite.wall_ms, 3),
        "toxiproxy": suite.toxiproxy,
        "verdict": suite.verdict,
        "exit_code": exit_code(suite.verdict),
        "profile": {
            "name": profile.name,
            "alert_error_rate": profile.alert_error_rate,
            "alert_window_ms": profile.alert_window_ms,
        },
        "counts": _counts(suite.runs),
        "runs": [run_json(r, profile) for r in suite.runs],
    }


def to_results(suite: SuiteResult, profile: PlatformProfile = CXONE) -> str:
    """results.json text: indented, in a fixed field order, so two runs diff cleanly."""
    return json.dumps(suite_json(suite, profile), indent=2, ensure_ascii=False) + "\n"
