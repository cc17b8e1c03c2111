"""Read a suite's reports back, and merge the reports of a sharded suite into one.

`ivr-harness suite --shard K/N` runs every N-th run of the suite (a CI matrix runs
the N shards on N machines); `ivr-harness report merge DIR...` reads each shard's
`results.json` and `events.jsonl` and writes one set of reports, as if one machine
had run the whole suite: the same runs, the same verdicts. The merged wall time is
the longest shard's (they ran side by side).

A merge is refused (exit 2) unless its folders are exactly the shards 1..N of one suite:
each results.json names its share (K of N) and the suite's fingerprint, so a lost
shard, a shard given twice, or shards of two suites (another commit, other scenarios,
another N) can never add up to a green build.
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
from harness.report.results import SCHEMA_ID, Shard
from harness.scenario.expectations import Check
from harness.scenario.facts import breaker_history
from harness.scenario.model import Scenario
from harness.scenario.runner import RunResult, SuiteResult

__all__ = ["check_shards", "merge_suites", "read_shard", "read_suite"]

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


def read_shard(directory: Path) -> Shard | None:
    """The share of its suite a report folder holds (results.json's ``shard``), if any."""
    results = directory / "results.json"
    document = parse_json(read_text(results, what="results", max_bytes=_MAX), file=results)
    raw = document.get("shard") if isinstance(document, Mapping) else None
    if raw is None:
        return None
    try:
        return Shard(
            index=int(raw["index"]),
            count=int(raw["count"]),
            suite=str(raw["suite"]),
            suite_runs=int(raw["suite_runs"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"malformed shard: {exc!r}", file=results, pointer="/shard") from None


def check_shards(shards: Sequence[tuple[Path, Shard | None]]) -> None:
    """Refuse anything but every shard 1..N of one suite, each once (a ConfigError)."""
    named: list[tuple[Path, Shard]] = []
    for folder, shard in shards:
        if shard is None:
            raise ConfigError(
                "is not a shard of a suite: its results.json names no shard",
                file=folder,
                hint="merge the report folders of `ivr-harness suite --shard K/N` runs",
            )
        named.append((folder, shard))
    first_folder, first = named[0]
    for folder, shard in named[1:]:
        if (shard.suite, shard.count) != (first.suite, first.count):
            raise ConfigError(
                f"shard {shard.index}/{shard.count} of suite {shard.suite[:19]} cannot be merged "
                f"with shard {first.index}/{first.count} of suite {first.suite[:19]} "
                f"({first_folder})",
                file=folder,
                hint="merge the shards of one sharded suite (same scenarios, flows and N)",
            )
    by_index: dict[int, Path] = {}
    for folder, shard in named:
        if shard.index in by_index:
            raise ConfigError(
                f"shard {shard.index}/{shard.count} is given twice (also {by_index[shard.index]})",
                file=folder,
                hint="merge each shard once",
            )
        by_index[shard.index] = folder
    missing = [k for k in range(1, first.count + 1) if k not in by_index]
    if missing:
        listed = ", ".join(f"{k}/{first.count}" for k in missing)
        raise ConfigError(
            f"shard {listed} missing: {len(by_index)} of {first.count} shards given, and "
            "a merge without them would pass the runs they hold unseen",
            file="report merge",
            hint="pass every shard's report folder (a lost CI job must fail the merge)",
        )


def merge_suites(
    suites: Sequence[SuiteResult], run_id: str, suite_runs: int | None = None
) -> SuiteResult:
    """One suite holding every shard's runs, in the order a single run would list them.

    With ``suite_runs`` (the whole suite's count from the shards), complete shards that
    hold another number of runs are refused: they cannot be the shares of that suite.
    """
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
    planned = [r for r in runs if r.flow_set != "(not loaded)"]  # broken files are extra
    if suite_runs is not None and not incomplete and len(planned) != suite_runs:
        raise ConfigError(
            f"the shards hold {len(planned)} runs, their suite has {suite_runs}",
            file="report merge",
            hint="merge the complete shards of one sharded suite",
        )
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
