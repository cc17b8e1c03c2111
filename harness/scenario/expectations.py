"""Evaluate a scenario's expectations against what its calls did.

Every expectation becomes one :class:`Check` with a title an IVR engineer can
read ("403 insufficient_scope reached process-success"), what was expected and
what happened. Timing bounds can be stated relative to the flow's own config:
`timeout`, `budget` (the step's computed worst case), `timeout+200`. Upper
bounds get a noise allowance (10 % of the bound, at least 100 ms); lower bounds
are exact, because a timeout never fires early.

An upper bound missed by less than the scheduling lag the harness measured in
itself during that call's window (:mod:`harness.scenario.lag`) proves nothing
about the flow: the check is *inconclusive*, never passed and never failed.
Missed by more than that lag, it is a real failure.

The backends and proxies run on the harness's own loop, so an attempt that
timed out while that loop was stalled for at least half of the attempt
(:data:`STARVED`) was starved by the harness, not slowed by the backend: a
check that failed outright in a run with such an attempt (calls share breakers,
tokens and slots) is inconclusive too, unless it is a known defect. At
`time_scale: 10` a 2.5 s timeout is 250 wall ms, which a loaded machine can eat
whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.errors import ConfigError, did_you_mean
from harness.events import Event
from harness.executor.timeline import CallResult
from harness.flow.budget import step_budget
from harness.flow.http_config import parse_http_config
from harness.flow.model import Flow, FlowSet, Step
from harness.scenario.checks import Check, Late, RunFacts, noise_allowance
from harness.scenario.run_checks import RUN_LEVEL, alert_fired, error_windows

__all__ = [
    "Check",
    "Late",
    "RunFacts",
    "alert_fired",
    "error_windows",
    "evaluate",
    "longest_silence",
    "starved_timeouts",
    "timer_waits",
    "noise_allowance",
]

# (default title, what was expected, a test giving "" when a call holds, else why not)
CallTest = tuple[str, str, Callable[[CallResult], "str | Late"]]

_BOUND = re.compile(r"^(timeout|budget)\s*(?:([+-])\s*(\d+))?$")


STARVED = 0.5  # share of an attempt's window the loop was stalled: the timeout is not evidence


def evaluate(expectations: Sequence[Mapping[str, Any]], facts: RunFacts) -> list[Check]:
    checks: list[Check] = []
    for raw in expectations:
        checks.extend(_one(raw, facts))
    return checks


def _one(raw: Mapping[str, Any], facts: RunFacts) -> list[Check]:
    for key, handler in RUN_LEVEL.items():
        if key in raw:
            check = handler(raw, facts)
            if check.passed or check.title in facts.known_defects:
                return [check]
            starved = starved_timeouts(facts, None)
            if not starved:
                return [check]
            return [_unclear(check.title, check.expected, check.actual, starved)]
    return [_per_call(raw, facts)]


def starved_timeouts(facts: RunFacts, call_id: str | None) -> float:
    """The longest stall (flow ms) inside an attempt of `call_id` (None: any call) that
    timed out while the harness's loop was stalled for at least STARVED of it; else 0."""
    worst = 0.0
    for e in facts.events:
        if e.kind != "attempt_end" or e.data.get("outcome") != "timeout":
            continue
        if call_id is not None and e.call_id != call_id:
            continue
        elapsed = float(e.data.get("elapsed_ms") or 0.0)
        stalled = facts.lag.in_window(e.t_ms - elapsed, e.t_ms)
        if elapsed > 0 and stalled >= STARVED * elapsed:
            worst = max(worst, stalled)
    return worst


def _unclear(title: str, expected: str, actual: str, lag: float) -> Check:
    return Check(
        title=title,
        passed=False,
        expected=expected,
        actual=f"inconclusive: the machine was overloaded (lag {lag:.0f} ms): {actual}",
        inconclusive=True,
        lag_ms=lag,
    )


# -- per-call expectations ------------------------------------------------------------------


def _selected(raw: Mapping[str, Any], calls: Sequence[CallResult]) -> list[CallResult]:
    which = raw.get("calls", "all")
    if isinstance(which, list):
        return [calls[n - 1] for n in which if 0 < n <= len(calls)]
    return list(calls)


def _per_call(raw: Mapping[str, Any], facts: RunFacts) -> Check:
    calls = _selected(raw, facts.calls)
    mode_any = raw.get("calls") == "any"
    title, expected, test = _call_test(raw, facts)
    title = raw.get("title", title)
    results = [(call, test(call)) for call in calls]
    bad = [(call, why) for call, why in results if why]
    passed = bool(calls) and (len(bad) < len(calls) if mode_any else not bad)
    if passed:
        actual = f"held for {len(calls) - len(bad)} of {len(calls)} calls"
        return Check(title=title, passed=True, expected=expected, actual=actual)
    if not calls:
        return Check(title=title, passed=False, expected=expected, actual="no call ran")
    known = title in facts.known_defects
    excused = {c.call_id: lag for c, why in bad if (lag := _excuse(c, why, facts, known))}
    shown = "; ".join(f"{c.call_id}: {_why(why)}" for c, why in bad[:3])
    more = f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
    if len(excused) < len(bad):
        return Check(title=title, passed=False, expected=expected, actual=shown + more)
    return _unclear(title, expected, shown + more, max(excused.values()))


def _why(why: str | Late) -> str:
    return why.why if isinstance(why, Late) else why


def _excuse(call: CallResult, why: str | Late, facts: RunFacts, known: bool) -> float:
    """The lag that could have stretched the late call's window, when it covers the overrun.

    A check the call failed outright (or late on a path a starved timeout may have
    chosen) is excused only by an attempt the harness starved
    anywhere in the run (calls share breakers, the token cache and slots: a scheduled
    token refresh that timed out sends a later call down the auth-failure path), and
    never when it is a known defect: those are structural (the seed has no breaker at
    all), and a starved timeout cannot make a flow lack one.
    """
    starved = 0.0 if known else starved_timeouts(facts, None)
    if not isinstance(why, Late):
        return starved
    sleeps = timer_waits(call, facts.events, why.start_ms, why.end_ms)
    measured = facts.lag.in_window(why.start_ms, why.end_ms, sleeps)
    # A starved timeout can also put the call on a longer path (a fallback, a retry).
    return measured if measured >= why.over_ms else starved


def timer_waits(
    call: CallResult, events: Sequence[Event], start_ms: float, end_ms: float
) -> list[tuple[float, float]]:
    """When the call slept on a timer inside [start_ms, end_ms]: attempts that ended at
    their deadline, backoffs, Wait steps (flow ms)."""
    waits: list[tuple[float, float]] = []
    for e in events:
        if e.call_id != call.call_id or not start_ms <= e.t_ms <= end_ms:
            continue
        if e.kind == "attempt_end" and e.data.get("outcome") == "timeout":
            # The timer was due at the attempt's deadline, not when the timeout was seen:
            # a stall over the deadline is what made it late, and must not be left out.
            began = e.t_ms - float(e.data.get("elapsed_ms") or 0.0)
            limit = e.data.get("timeout_ms")
            waits.append((began, min(e.t_ms, began + float(limit)) if limit else e.t_ms))
        elif e.kind == "backoff":
            waits.append((e.t_ms, e.t_ms + float(e.data.get("wait_ms") or 0.0)))
    waits.extend(
        (seg.start_ms, seg.end_ms)
        for seg in call.segments
        if seg.step_type == "Wait" and start_ms <= seg.start_ms <= end_ms
    )
    return waits


def _call_test(raw: Mapping[str, Any], facts: RunFacts) -> CallTest:
    if "outcome" in raw:
        want = raw["outcome"]
        return (
            f"every call ends in {want}",
            want,
            lambda c: "" if c.outcome == want else f"ended in {c.outcome} at {c.terminal_step}",
        )
    if "outcome_not" in raw:
        banned = list(raw["outcome_not"])
        return (
            "no call ends in " + " or ".join(banned),
            "ends in none of " + ", ".join(banned),
            lambda c: f"ended in {c.outcome} at {c.terminal_step}" if c.outcome in banned else "",
        )
    if "visits" in raw:
        step = raw["visits"]
        return (
            f"calls reach {step}",
            f"visits {step}",
            lambda c: "" if step in c.steps() else "never reached it",
        )
    if "never_visits" in raw:
        step = raw["never_visits"]
        return (
            f"no call reaches {step}",
            f"never visits {step}",
            lambda c: f"reached {step}" if step in c.steps() else "",
        )
    if "variable" in raw:
        return _variable_test(raw["variable"])
    if "step" in raw:
        return _step_test(raw["step"], facts)
    if "dead_air_max_ms" in raw:
        return _dead_air_test(raw["dead_air_max_ms"], facts)
    if "clean_output" in raw:
        return (
            "no null or JSON fragment reaches a prompt, a request or a transfer target",
            "nothing blank in what the caller hears or a backend receives",
            _blanks,
        )
    if "lands" in raw:
        return _lands_test(raw["lands"])
    if "call_max_ms" in raw:
        limit = float(raw["call_max_ms"])
        return (
            f"calls last at most {limit:.0f} ms",
            f"<= {limit:.0f} ms",
            lambda c: (
                ""
                if c.duration_ms <= limit
                else Late(
                    why=f"lasted {c.duration_ms:.0f} ms",
                    over_ms=c.duration_ms - limit,
                    start_ms=c.start_ms,
                    end_ms=c.end_ms,
                )
            ),
        )
    raise AssertionError(f"unhandled expectation {sorted(raw)}")  # the schema forbids it


def _blanks(call: CallResult) -> str:
    found = [
        f"{seg.step_id} ({_BLANK_WHERE.get(seg.step_type, seg.step_type)}) got "
        + ", ".join(seg.detail["blanks"])
        for seg in call.segments
        if seg.detail.get("blanks")
    ]
    return "; ".join(found)


_BLANK_WHERE = {"Play": "prompt", "HTTPRequest": "request", "Transfer": "transfer target"}


def landings(call: CallResult, step_id: str) -> list[str]:
    """Where the call went after each run of `step_id`: the first later step that is not a
    Condition (the router's choice), or "(end)" when the call ended there."""
    out = []
    segments = call.segments
    for index, seg in enumerate(segments):
        if seg.step_id != step_id:
            continue
        after = (s.step_id for s in segments[index + 1 :] if s.step_type != "Condition")
        out.append(next(after, "(end)"))
    return out


def _lands_test(spec: Mapping[str, Any]) -> CallTest:
    after = str(spec["after"]).rpartition("/")[2]
    allowed, banned = spec.get("in"), set(spec.get("not_in", ()))
    wants = []
    if allowed is not None:
        wants.append("goes on to " + " or ".join(allowed))
    if banned:
        wants.append("never goes on to " + " or ".join(sorted(banned)))

    def test(call: CallResult) -> str:
        went = landings(call, after)
        if not went:
            return f"{after} did not run"
        wrong = [w for w in went if w in banned or (allowed is not None and w not in allowed)]
        return f"went on to {wrong[0]}" if wrong else ""

    expected = "; ".join(wants) or "runs"
    return f"after {after}: {expected}", expected, test


def _variable_test(spec: Mapping[str, Any]) -> CallTest:
    name = spec["name"]
    if spec.get("is_null") is not None:
        want_null = bool(spec["is_null"])
        label = "null" if want_null else "set"
        return (
            f"{name} is {label} at the end of the call",
            label,
            lambda c: (
                ""
                if (c.variables.get(name) is None) == want_null
                else f"{name}={c.variables.get(name)!r}"
            ),
        )
    want = spec.get("equals")
    return (
        f"{name} equals {want!r}",
        repr(want),
        lambda c: "" if c.variables.get(name) == want else f"{name}={c.variables.get(name)!r}",
    )


def _find_step(flows: FlowSet, step_id: str) -> tuple[Flow, Step] | None:
    for flow in flows:
        step = flow.step(step_id)
        if step is not None:
            return flow, step
    return None


def resolve_bound(value: Any, facts: RunFacts, step_id: str | None) -> float:
    """A bound in ms: a number, or `timeout` / `budget` (+- ms) of the step named.

    Without a step (dead air), `budget` is the run's dead-air budget.
    """
    if isinstance(value, int | float):
        return float(value)
    match = _BOUND.match(str(value).strip())
    if match is None:  # the schema admits only the forms above
        raise ConfigError(f"not a time bound: {value!r}", hint="a number, timeout or budget")
    delta = float(match.group(3) or 0) * (-1 if match.group(2) == "-" else 1)
    if step_id is None:
        if match.group(1) != "budget":
            raise ConfigError("dead air is bounded by a number or 'budget', not 'timeout'")
        return facts.dead_air_budget_ms + delta
    found = _find_step(facts.flows, step_id)
    if found is None:
        known = [s.id for f in facts.flows for s in f.steps]
        raise ConfigError(
            f"step '{step_id}' is in no flow of this flow set",
            hint=did_you_mean(step_id, known) or "name a step id of the flows",
        )
    flow, step = found
    if match.group(1) == "timeout":
        base = float(parse_http_config(step, facts.profile, flow).timeout_ms)
    else:
        base = float(step_budget(step, flow, facts.profile).worst_ms)
    return base + delta


def _step_test(spec: Mapping[str, Any], facts: RunFacts) -> CallTest:
    step_id = spec["id"]
    low = resolve_bound(spec["min_ms"], facts, step_id) if "min_ms" in spec else None
    high = resolve_bound(spec["max_ms"], facts, step_id) if "max_ms" in spec else None
    parts = [
        f"{k}={spec[k]}"
        for k in ("outcome", "outcome_in", "attempts", "inline_token_fetch")
        if k in spec
    ]
    if low is not None:
        parts.append(f">= {low:.0f} ms")
    if high is not None:
        parts.append(f"<= {high:.0f} ms (+{noise_allowance(high):.0f} noise)")
    expected = ", ".join(parts)

    def test(call: CallResult) -> str | Late:
        segs = [s for s in call.segments if s.step_id == step_id]
        if not segs:
            return f"{step_id} did not run"
        late: Late | None = None
        for seg in segs:
            why = _check_segment(spec, dict(seg.detail), seg.duration_ms, low, None)
            if why:
                return why
            if high is not None and seg.duration_ms > high + noise_allowance(high):
                late = late or Late(
                    why=f"took {seg.duration_ms:.0f} ms, over {high:.0f}",
                    over_ms=seg.duration_ms - high - noise_allowance(high),
                    start_ms=seg.start_ms,
                    end_ms=seg.end_ms,
                )
        return late or ""

    return f"{step_id}: {expected}", expected, test


def _check_segment(
    spec: Mapping[str, Any],
    detail: dict[str, Any],
    ms: float,
    low: float | None,
    high: float | None,
) -> str:
    if "outcome" in spec and detail.get("outcome") != spec["outcome"]:
        return f"outcome {detail.get('outcome')}"
    if "outcome_in" in spec and detail.get("outcome") not in spec["outcome_in"]:
        return f"outcome {detail.get('outcome')}"
    if "attempts" in spec and detail.get("attempts") != spec["attempts"]:
        return f"{detail.get('attempts')} attempts"
    if (
        "inline_token_fetch" in spec
        and bool(detail.get("inline_token_fetch")) != spec["inline_token_fetch"]
    ):
        return f"inline_token_fetch={detail.get('inline_token_fetch')}"
    if low is not None and ms < low:
        return f"took {ms:.0f} ms, under {low:.0f}"
    if high is not None and ms > high + noise_allowance(high):
        return f"took {ms:.0f} ms, over {high:.0f}"
    return ""


def _dead_air_test(value: Any, facts: RunFacts) -> CallTest:
    limit = resolve_bound(value, facts, None)
    allowance = noise_allowance(limit)

    def test(call: CallResult) -> str | Late:
        if call.max_dead_air_ms <= limit + allowance:
            return ""
        start, end = longest_silence(call)
        return Late(
            why=f"silent for {call.max_dead_air_ms:.0f} ms",
            over_ms=call.max_dead_air_ms - limit - allowance,
            start_ms=start,
            end_ms=end,
        )

    return (
        f"no silence longer than {limit:.0f} ms",
        f"longest silence <= {limit:.0f} ms (+{allowance:.0f} noise)",
        test,
    )


def longest_silence(call: CallResult) -> tuple[float, float]:
    """(start, end) ms of the call's longest silence, as `timeline.dead_air` counts it."""
    best = (call.start_ms, call.start_ms)
    start: float | None = None
    length = 0.0
    for seg in call.segments:
        if seg.audio or seg.caller_input:
            start, length = None, 0.0
            continue
        start = seg.start_ms if start is None else start
        length += seg.duration_ms
        if length > best[1] - best[0]:
            best = (start, start + length)
    if not call.segments:  # a dropped call: its whole wait was silence
        best = (call.start_ms, call.end_ms)
    return best
