"""Lag attribution and verdicts: a miss covered by the measured lag is inconclusive, not red."""

from __future__ import annotations

import asyncio
import time

from harness.bundled import CONTRACTS
from harness.errors import exit_code
from harness.events import Event
from harness.executor.timeline import CallResult, Segment
from harness.flow.loader import load_flow_set
from harness.flow.profile import CXONE
from harness.scenario.expectations import Check, RunFacts, evaluate, longest_silence
from harness.scenario.lag import LagMonitor, RunLag
from harness.scenario.verdict import run_verdict, suite_verdict

FLOWS = load_flow_set(CONTRACTS / "flows" / "hardened")


def _call(silence_ms: float, start: float = 1000.0) -> CallResult:
    segments = (
        Segment(flow_id="f", step_id="greet", step_type="Play", start_ms=start,
                end_ms=start + 500, audio=True),
        Segment(flow_id="f", step_id="lookup", step_type="HTTPRequest", start_ms=start + 500,
                end_ms=start + 500 + silence_ms),
        Segment(flow_id="f", step_id="bye", step_type="Play", start_ms=start + 500 + silence_ms,
                end_ms=start + 1000 + silence_ms, audio=True),
    )  # fmt: skip
    return CallResult(
        call_id="call-1", flow_id="f", outcome="transfer:agent-queue", terminal_step="bye",
        reason="", start_ms=start, end_ms=start + 1000 + silence_ms, segments=segments,
        variables={}, dead_air_ms=silence_ms, max_dead_air_ms=silence_ms,
    )  # fmt: skip


def _lag(stall_s: float, ends_at_flow_ms: float, scale: float = 1.0) -> RunLag:
    """A run whose flow ms 0 is monotonic 100.0, with one stall of `stall_s` wall seconds."""
    monitor = LagMonitor()
    woke = 100.0 + ends_at_flow_ms / 1000 / scale
    monitor.record(woke - stall_s, woke)
    return RunLag(monitor=monitor, scale=scale, flow_ms0=0.0, mono0=100.0)


def _check(
    silence_ms: float, lag: RunLag, events: tuple[Event, ...] = ()
) -> tuple[bool, bool, str]:
    facts = RunFacts(
        calls=[_call(silence_ms)], events=events, flows=FLOWS, profile=CXONE, requests={}, lag=lag
    )
    [check] = evaluate([{"dead_air_max_ms": "budget"}], facts)
    return check.passed, check.inconclusive, check.actual


def test_a_silence_within_the_budget_passes_whatever_the_lag() -> None:
    assert _check(8700, _lag(0.0, 3000))[:2] == (True, False)


def test_a_miss_smaller_than_the_lag_in_its_window_is_inconclusive() -> None:
    # 9625 ms vs 8000 + 800: over by 825 ms; a 1 s stall while the call was working.
    passed, inconclusive, actual = _check(9625, _lag(1.0, 6000))
    assert (passed, inconclusive) == (False, True)
    assert "overloaded (lag 1000 ms)" in actual and "silent for 9625 ms" in actual


def test_a_scaled_clock_scales_the_lag() -> None:
    # 100 wall ms of stall at time_scale 10 is a second of flow time.
    assert _check(9625, _lag(0.1, 11125, scale=10))[:2] == (False, True)
    assert _check(9625, _lag(0.05, 11125, scale=10))[:2] == (False, False)


def test_a_miss_larger_than_the_lag_is_a_real_failure() -> None:
    # The defect: a 12 s silence. A 1 s stall explains 1 s of it, not 3.2 s.
    assert _check(12000, _lag(1.0, 13500))[:2] == (False, False)


def test_a_stall_the_call_slept_through_does_not_excuse_it() -> None:
    # The silence is an attempt that timed out after 9 s (1600..10600): its deadline timer
    # fires on time whatever the loop did at 3000..6000, so that stall explains nothing.
    timed_out = Event(
        kind="attempt_end", t_ms=10600.0, call_id="call-1", step_id="lookup",
        data={"outcome": "timeout", "elapsed_ms": 9000.0},
    )  # fmt: skip
    assert _check(9625, _lag(3.0, 6000), (timed_out,))[:2] == (False, False)
    # The same stall ending as the deadline fell due made the timer late: inconclusive.
    assert _check(9625, _lag(1.0, 10600), (timed_out,))[:2] == (False, True)


def test_a_stall_over_the_deadline_excuses_a_late_timeout_seen_after_it() -> None:
    # Found by the generated population (issue 19): an 8.7 s attempt (1600..10300) whose
    # timeout was seen at 10600, after a stall of 9600..10500 over its deadline. The timer
    # was due at 10300, so that stall made it late: inconclusive, not a slow timeout.
    late = Event(
        kind="attempt_end", t_ms=10600.0, call_id="call-1", step_id="lookup",
        data={"outcome": "timeout", "elapsed_ms": 9000.0, "timeout_ms": 8700},
    )  # fmt: skip
    assert _check(9625, _lag(0.9, 10500), (late,))[:2] == (False, True)
    # A stall wholly before the deadline still explains nothing.
    assert _check(9625, _lag(0.9, 10200), (late,))[:2] == (False, False)


def test_lag_outside_the_silence_does_not_excuse_it() -> None:
    # The silence spans flow ms 1500..11125; a stall at 20 s is somebody else's.
    assert _check(9625, _lag(1.0, 20000))[:2] == (False, False)


def test_the_longest_silence_is_located() -> None:
    assert longest_silence(_call(9625)) == (1500.0, 11125.0)


def test_the_monitor_sees_a_blocked_loop() -> None:
    async def main() -> tuple[float, float]:
        async with LagMonitor(interval_s=0.005) as monitor:
            await asyncio.sleep(0.05)
            start = time.monotonic()
            time.sleep(0.2)  # noqa: ASYNC251 - the point: the loop is blocked
            await asyncio.sleep(0.05)
            return monitor.stalled_s(start, time.monotonic())

    total, longest = asyncio.run(main())
    # Exactly bounded below by what was blocked (minus one interval), generously above.
    assert 0.19 <= longest <= total < 5.0


def _c(title: str, passed: bool, inconclusive: bool = False) -> Check:
    return Check(title=title, passed=passed, expected="", actual="", inconclusive=inconclusive)


def test_verdicts() -> None:
    known = {"seed": ("a",)}
    assert run_verdict(known, "hardened", [_c("a", True), _c("b", False, True)])[0] == (
        "inconclusive"
    )
    assert run_verdict(known, "hardened", [_c("a", False), _c("b", False, True)])[0] == "fail"
    assert run_verdict(known, "seed", [_c("a", False), _c("b", True)])[0] == "expected_failure"
    assert run_verdict(known, "seed", [_c("a", False, True)])[0] == "inconclusive"
    assert run_verdict(known, "seed", [_c("a", True), _c("b", False, True)])[0] == (
        "unexpected_pass"
    )
    assert suite_verdict(["pass", "inconclusive", "expected_failure"]) == "inconclusive"
    assert suite_verdict(["inconclusive", "unexpected_pass"]) == "fail"
    assert [exit_code(v) for v in ("pass", "inconclusive", "fail", "error")] == [0, 0, 1, 2]


def _outcome_check(stall_s: float, known: frozenset[str] = frozenset()) -> tuple[bool, bool]:
    """call-1 ended in the error tone after its attempt timed out at 2500 ms (flow 4000)."""
    call = _call(3000)
    attempt = Event(
        kind="attempt_end", t_ms=4000.0, call_id="call-1", step_id="lookup",
        data={"outcome": "timeout", "elapsed_ms": 2500.0},
    )  # fmt: skip
    monitor = LagMonitor()
    monitor.record(100.0 + 2.0, 100.0 + 2.0 + stall_s)  # a stall starting at flow ms 2000
    lag = RunLag(monitor=monitor, scale=1.0, flow_ms0=0.0, mono0=100.0)
    facts = RunFacts(
        calls=[call], events=[attempt], flows=FLOWS, profile=CXONE, requests={}, lag=lag,
        known_defects=known,
    )  # fmt: skip
    [check] = evaluate([{"outcome": "dead_end", "title": "the error tone"}], facts)
    return check.passed, check.inconclusive


def test_a_timeout_the_harness_starved_is_not_evidence() -> None:
    # Stalled 1.5 s of the attempt's 2.5 s (from 1500 to 4000): the backend never had a chance.
    assert _outcome_check(1.5) == (False, True)


def test_a_timeout_with_the_harness_mostly_running_is_evidence() -> None:
    assert _outcome_check(0.5) == (False, False)


def test_a_known_defect_failing_outright_is_detected_however_starved() -> None:
    # The seed's defects are structural: a starved timeout cannot give a flow a breaker.
    assert _outcome_check(1.5, frozenset({"the error tone"})) == (False, False)


def test_a_fault_its_step_never_met_is_an_error_unless_the_harness_starved_the_way() -> None:
    from harness.scenario.model import Scenario
    from harness.scenario.runner import RunResult, _unexercised

    why = ["step http-book never ran under fault 0 (http on api.x): the call went ..."]
    starved = Event(kind="attempt_end", t_ms=2000.0, call_id="call-1", step_id="http-slots",
                    data={"outcome": "timeout", "elapsed_ms": 200.0})  # fmt: skip

    def judged(events: tuple[Event, ...], lag: RunLag) -> RunResult:
        result = RunResult(scenario=Scenario(name="s", path=None), flow_set="f", verdict="pass")
        result.unexercised = list(why)
        facts = RunFacts(calls=[_call(0)], events=events, flows=FLOWS, profile=CXONE,
                         requests={}, lag=lag)  # fmt: skip
        _unexercised(result, facts)
        return result

    plain = judged((), _lag(0.0, 2000))
    assert (plain.verdict, plain.error) == ("error", why[0])
    # The GET before it timed out while the loop stalled for all of its 200 ms.
    loaded = judged((starved,), _lag(0.2, 2000))
    assert loaded.verdict == "inconclusive" and loaded.checks[-1].inconclusive
    assert why[0] in loaded.checks[-1].actual
