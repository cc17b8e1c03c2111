"""A suite run as `results.json`: the stable, documented schema `ivr-harness/results/v1`.

`contracts/schemas/results.schema.json` validates the output and `docs/results.md`
describes it field by field. Fields are only ever added within v1; a rename or a
removal bumps the version, so dashboards and CI scripts can rely on the shape.
Every report renders facts the scenario layer decided when the run ended (verdicts,
breaker moves, error windows), so every report tells the same story.

A `suite` run also records which suite it ran and which share of it (`shard`: K of N,
the suite's fingerprint and how many runs the whole suite has), so `report merge` can
refuse a missing shard or shards of two different suites instead of passing them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import exit_code
from harness.flow.profile import CXONE, PlatformProfile
from harness.scenario.runner import RunResult, SuiteResult

if TYPE_CHECKING:
    from harness.scenario.model import Scenario
    from harness.scenario.runner import FlowSetRef

__all__ = [
    "SCHEMA_ID",
    "VERDICTS",
    "Shard",
    "run_json",
    "suite_fingerprint",
    "suite_json",
    "to_results",
]

SCHEMA_ID = "ivr-harness/results/v1"
VERDICTS = ("pass", "fail", "expected_failure", "unexpected_pass", "inconclusive", "error")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Shard:
    """Which share of which suite a `suite` run ran: shard ``index`` of ``count``.

    ``suite`` is the fingerprint of the whole suite (:func:`suite_fingerprint`) and
    ``suite_runs`` how many runs it has across every shard; an unsharded suite is 1 of 1.
    """

    index: int
    count: int
    suite: str
    suite_runs: int

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def suite_fingerprint(pairs: Sequence[tuple[Scenario, FlowSetRef]]) -> str:
    """``sha256:...`` of what a suite runs: its run ids, each scenario file and flow's text.

    Every shard of one suite computes the same value on any machine (no paths, no time);
    a shard run on another commit, with other scenarios or other flows, does not.
    """
    scenarios = {s.name: _digest(_text_of(s.path)) for s, _ in pairs}
    flows = {
        ref.name: {flow.id: _digest(flow.source) for flow in ref.flows} for _, ref in pairs
    }
    runs = sorted(f"{s.name}[{ref.name}]" for s, ref in pairs)
    document = {"runs": runs, "scenarios": scenarios, "flows": flows}
    return "sha256:" + _digest(json.dumps(document, sort_keys=True))


def _text_of(path: Path | None) -> str:
    try:
        return path.read_text(encoding="utf-8") if path is not None else ""
    except (OSError, UnicodeDecodeError):  # it loaded a moment ago; its name still counts
        return ""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


def run_json(run: RunResult) -> dict[str, Any]:
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
        "known_defects_cleared": run.cleared_defects() if run.verdict == "unexpected_pass" else [],
        "checks": [c.to_json() for c in run.checks],
        "faults": _jsonable(run.faults),
        "calls": _jsonable([c.to_json() for c in run.calls]),
        "breakers": [
            {"key": key, "transitions": [m.to_json() for m in moves]}
            for key, moves in run.breakers.items()
        ],
        "error_windows": run.error_windows,
    }


def suite_json(
    suite: SuiteResult, profile: PlatformProfile = CXONE, shard: Shard | None = None
) -> dict[str, Any]:
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
        "runs": [run_json(r) for r in suite.runs],
        "complete": not suite.incomplete,
        "incomplete_reason": suite.incomplete,
        "notes": list(suite.notes),
        "shard": shard.to_json() if shard is not None else None,
    }


def to_results(
    suite: SuiteResult, profile: PlatformProfile = CXONE, shard: Shard | None = None
) -> str:
    """results.json text: indented, in a fixed field order, so two runs diff cleanly."""
    return json.dumps(suite_json(suite, profile, shard), indent=2, ensure_ascii=False) + "\n"
