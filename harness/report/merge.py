"""Read a suite's reports back, and merge the reports of a sharded suite into one.

`ivr-harness suite --shard K/N` runs every N-th run of the suite (a CI matrix runs
the N shards on N machines); `ivr-harness report merge DIR...` reads each shard's
`results.json` and `events.jsonl` and writes one set of reports, as if one machine
had run the whole suite: the same runs, the same verdicts. The merged wall time is
the longest shard's (they ran side by side).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.events import Event
from harness.executor.timeline import CallResult, Segment
from harness.inputs import parse_json, read_text
from harness.report.results import SCHEMA_ID
from harness.scenario.expectations import Check
from harness.scenario.facts import breaker_history
from harness.scenario.model import Scenario
from harness.scenario.runner import RunResult, SuiteResult

__all__ = ["merge_suites", "read_suite"]

_MAX = 1 << 30  # a load run's reports can be large; they are ours, not a user's input


def read_suite(directory: Path) -> SuiteResult:
    """The suite a report folder describes (its results.json and events.jsonl)."""
    results = directory / "results.json"
    document = parse_json(read_text(results, what="results", max_bytes=_MAX), file=results)
    if not isinstance(document, Mapping) or document.get("schema") != SCHEMA_ID:
        raise ConfigError(f"not an ivr-harness results file ({SCHEMA_ID})", file=results)
    events = _events(directory / "events.jsonl")
    try:
        runs = [_run(r, events.get(r["id"], [])) for r in document["runs"]]
        return SuiteResult(
            run_id=str(document["run_id"]),
            started_at=str(document["started_at"]),
            runs=runs,
            wall_ms=float(document["wall_ms"]),
            toxiproxy=str(document["toxiproxy"]),
            incomplete=str(document.get("incomplete_reason", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"malformed results file: {exc!r}", file=results) from exc


def merge_suites(suites: Sequence[SuiteResult], run_id: str) -> SuiteResult:
    """One suite holding every shard's runs, in the order a single run would list them."""
    seen: dict[str, str] = {}
    for suite in suites:
        for run in suite.runs:
            if run.id in seen:
                raise ConfigError(
                    f"run {run.id} is in two shards ({seen[run.id]} and {suite.run_id})",
                    file="report merge",
                    hint="merge each shard of one sharded suite once",
                )
            seen[run.id] = suite.run_id
    runs = sorted((r for s in suites for r in s.runs), key=lambda r: (r.scenario.name, r.flow_set))
    incomplete = "; ".join(f"{s.run_id}: {s.incomplete}" for s in suites if s.incomplete)
    return SuiteResult(
        run_id=run_id,
        started_at=min(s.started_at for s in suites),
        runs=runs,
        wall_ms=max(s.wall_ms for s in suites),
        toxiproxy=", ".join(sorted({s.toxiproxy for s in suites})),
        incomplete=incomplete,
    )


def _events(path: Path) -> dict[str, list[Event]]:
    by_run: dict[str, list[Event]] = {}
    if not path.is_file():
        return by_run
    for number, line in enumerate(read_text(path, what="events", max_bytes=_MAX).splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            run = str(record.pop("run"))
            by_run.setdefault(run, []).append(Event(**record))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"line {number} is not an event: {exc}", file=path) from exc
    return by_run


def _run(data: Mapping[str, Any], events: list[Event]) -> RunResult:
    file = data.get("scenario_file")
    scenario = Scenario(
        name=str(data["scenario"]),
        path=Path(file) if file else None,
        description=str(data.get("description", "")),
        entry=str(data["entry"]),
        tags=tuple(data.get("tags", ())),
        known_defects={str(data["flow_set"]): tuple(data.get("known_defects", ()))},
    )
    return RunResult(
        scenario=scenario,
        flow_set=str(data["flow_set"]),
        verdict=str(data["verdict"]),
        checks=[Check(**c) for c in data["checks"]],
        calls=[_call(c) for c in data["calls"]],
        events=events,
        faults=list(data.get("faults", [])),
        wall_ms=float(data["wall_ms"]),
        error=str(data.get("error", "")),
        alert=bool(data.get("alert", False)),
        error_windows=list(data.get("error_windows", [])),
        breakers=breaker_history(events),
    )


def _call(data: Mapping[str, Any]) -> CallResult:
    segments = tuple(
        Segment(
            flow_id=s["flow_id"],
            step_id=s["step_id"],
            step_type=s["type"],
            start_ms=float(s["start_ms"]),
            end_ms=float(s["end_ms"]),
            audio=bool(s["audio"]),
            caller_input=bool(s["caller_input"]),
            detail=dict(s["detail"]),
        )
        for s in data["segments"]
    )
    return CallResult(
        call_id=data["call_id"],
        flow_id=data["flow_id"],
        outcome=data["outcome"],
        terminal_step=data["terminal_step"],
        reason=data["reason"],
        start_ms=float(data["start_ms"]),
        end_ms=float(data["end_ms"]),
        segments=segments,
        variables={},
        dead_air_ms=float(data["dead_air_ms"]),
        max_dead_air_ms=float(data["max_dead_air_ms"]),
    )
