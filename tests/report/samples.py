"""Suite results for the report tests: one real run, and hand-built runs for every verdict.

The real run (happy-path against both bundled flow sets) proves the reports
accept what the runner actually produces; the hand-built suite covers what a
happy path never shows (breaker moves, backoff, circuit_open skips, harness
errors, a fixed known defect) and carries hostile text to prove escaping.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from harness.events import Event
from harness.executor.timeline import CallResult, Segment
from harness.flow.profile import CXONE
from harness.scenario.expectations import Check
from harness.scenario.facts import alert_windows, breaker_history
from harness.scenario.model import Scenario, load_scenarios
from harness.scenario.runner import RunResult, SuiteResult, load_flow_sets, run_suite

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = '<script>alert("x")</script> & <img src="https://evil.example/x.png"> | \x07'


def real_suite() -> SuiteResult:
    """happy-path.yaml against the hardened and seed flow sets, for real."""
    scenarios = load_scenarios([ROOT / "scenarios" / "happy-path.yaml"])
    flow_sets = load_flow_sets(
        [ROOT / "contracts" / "flows" / "hardened", ROOT / "contracts" / "flows" / "seed"]
    )
    return asyncio.run(run_suite(scenarios, flow_sets))


def _call(call_id: str, start: float, outcome: str = "transfer:agent-queue") -> CallResult:
    segments = (
        Segment(flow_id="ivr", step_id="welcome", step_type="Play", start_ms=start,
                end_ms=start + 400, audio=True, detail={"prompt": "Welcome"}),
        Segment(flow_id="ivr", step_id="collect", step_type="CollectDigits",
                start_ms=start + 400, end_ms=start + 900, caller_input=True),
        Segment(flow_id="ivr", step_id="http-lookup", step_type="HTTPRequest",
                start_ms=start + 900, end_ms=start + 2900,
                detail={"outcome": "success", "status": 200, "attempts": 2,
                        "inline_token_fetch": True}),
        Segment(flow_id="ivr", step_id="bye", step_type="Play", start_ms=start + 2900,
                end_ms=start + 3400, audio=True),
    )  # fmt: skip
    return CallResult(
        call_id=call_id, flow_id="ivr", outcome=outcome, terminal_step="bye", reason="",
        start_ms=start, end_ms=start + 3400, segments=segments, variables={},
        dead_air_ms=2000, max_dead_air_ms=2000,
    )  # fmt: skip


def _events(call_id: str, start: float) -> list[Event]:
    def ev(kind: str, t: float, **data: object) -> Event:
        return Event(kind=kind, t_ms=start + t, call_id=call_id, step_id="http-lookup", data=data)

    return [
        ev("token_fetch", 1100, inline=True, status=200, error="", elapsed_ms=200),
        ev("attempt_start", 1100, attempt=1),
        ev("attempt_end", 1900, attempt=1, outcome="http_error", status=503, elapsed_ms=800),
        ev("backoff", 1900, wait_ms=200),
        ev("attempt_start", 2100, attempt=2),
        ev("attempt_end", 2800, attempt=2, outcome="success", status=200, elapsed_ms=700),
        ev("step_end", 2850, outcome="success", status=200, attempts=2),
    ]


def _scenario(name: str, known: tuple[str, ...] = ()) -> Scenario:
    return Scenario(
        name=name,
        path=ROOT / "scenarios" / f"{name}.yaml",
        description=f"hand-built {name} {HOSTILE}",
        known_defects={"seed": known} if known else {},
    )


def _check(title: str, passed: bool, known: bool = False) -> Check:
    return Check(
        title=title,
        passed=passed,
        expected="transfer:agent-queue",
        actual="held for 2 of 2 calls" if passed else "call-1: ended in dead_end at confirm",
        known_defect=known,
    )


def _breaker_run() -> RunResult:
    calls = [_call("call-1", 0.0), _call("call-2", 4000.0)]
    events = _events("call-1", 0.0) + _events("call-2", 4000.0)
    events += [
        Event(kind="breaker", t_ms=1900, call_id="call-1", step_id="http-lookup",
              data={"key": "crm", "old": "closed", "new": "open"}),
        Event(kind="circuit_open", t_ms=4950, call_id="call-2", step_id="http-lookup"),
        Event(kind="breaker", t_ms=6000, call_id="call-2", step_id="http-lookup",
              data={"key": "crm", "old": "open", "new": "half_open"}),
        Event(kind="breaker", t_ms=6800, call_id="call-2", step_id="http-lookup",
              data={"key": "crm", "old": "half_open", "new": "closed"}),
    ]  # fmt: skip
    faults = [
        {"kind": "fault_applied", "fault": 0, "label": "503 storm", "t_ms": 10.0},
        {"kind": "fault_removed", "fault": 0, "label": "503 storm", "t_ms": 5000.0},
    ]
    return RunResult(
        scenario=_scenario("storm"), flow_set="hardened", verdict="fail",
        checks=[_check("breaker opens", True), _check(f"no dead end {HOSTILE}", False)],
        calls=calls, events=sorted(events, key=lambda e: e.t_ms), faults=faults,
        wall_ms=1234.5, alert=True, breakers=breaker_history(events),
        error_windows=alert_windows(sorted(events, key=lambda e: e.t_ms), CXONE),
    )  # fmt: skip


def synthetic_suite() -> SuiteResult:
    """Four runs, one per non-pass verdict, plus a pass; all built by hand."""
    known = ("every call ends in transfer:agent-queue",)
    expected = RunResult(
        scenario=_scenario("storm", known), flow_set="seed", verdict="expected_failure",
        checks=[_check(known[0], False, known=True), _check("one token", True)],
        calls=[_call("call-1", 0.0, outcome="dead_end")], events=_events("call-1", 0.0),
        wall_ms=800.0,
    )  # fmt: skip
    cleared = RunResult(
        scenario=_scenario("fixed", known), flow_set="seed", verdict="unexpected_pass",
        checks=[_check(known[0], True)], calls=[_call("call-1", 0.0)],
        events=_events("call-1", 0.0), wall_ms=700.0,
    )  # fmt: skip
    broken = RunResult(
        scenario=_scenario("broken"), flow_set="hardened", verdict="error",
        error=f"cannot reach toxiproxy {HOSTILE}", wall_ms=5.0,
    )  # fmt: skip
    fine = RunResult(
        scenario=_scenario("fine"), flow_set="hardened", verdict="pass",
        checks=[_check("every call transfers", True)], calls=[_call("call-1", 0.0)],
        events=_events("call-1", 0.0), wall_ms=600.0,
    )  # fmt: skip
    return SuiteResult(
        run_id="20260101T000000Z-abc123",
        started_at="2026-01-01T00:00:00+00:00",
        runs=[_breaker_run(), expected, cleared, broken, fine],
        wall_ms=1500.0,
        toxiproxy="embedded",
    )
