"""Evaluate a scenario's expectations against what its calls did.

Every expectation becomes one :class:`Check` with a title an IVR engineer can
read ("403 insufficient_scope reached process-success"), what was expected and
what happened. Timing bounds can be stated relative to the flow's own config:
`timeout`, `budget` (the step's computed worst case), `timeout+200`. Upper
bounds get a noise allowance (10 % of the bound, at least 100 ms); lower bounds
are exact, because a timeout never fires early.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError, did_you_mean
from harness.events import Event
from harness.executor.timeline import CallResult
from harness.flow.budget import step_budget
from harness.flow.http_config import parse_http_config
from harness.flow.model import Flow, FlowSet, Step
from harness.flow.profile import PlatformProfile

__all__ = ["Check", "RunFacts", "evaluate", "error_windows", "noise_allowance"]

# (default title, what was expected, a test giving "" when a call holds, else why not)
CallTest = tuple[str, str, Callable[[CallResult], str]]

_BOUND = re.compile(r"^(timeout|budget)\s*(?:([+-])\s*(\d+))?$")
_FAILED = frozenset(
    {
        "http_error",
        "timeout",
        "connection_error",
        "dns_error",
        "auth_error",
        "too_large",
        "circuit_open",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    title: str
    passed: bool
    expected: str
    actual: str
    known_defect: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "passed": self.passed,
            "expected": self.expected,
            "actual": self.actual,
            "known_defect": self.known_defect,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFacts:
    """What a run produced, as the expectations need it."""

    calls: Sequence[CallResult]
    events: Sequence[Event]
    flows: FlowSet
    profile: PlatformProfile
    requests: Mapping[str, Sequence[str]]  # backend -> request paths, in order
    dead_air_budget_ms: int = 8000


def noise_allowance(bound_ms: float) -> float:
    """Room for a noisy machine on an upper bound: 10 % of it, at least 100 ms."""
    return max(100.0, 0.1 * bound_ms)


def evaluate(expectations: Sequence[Mapping[str, Any]], facts: RunFacts) -> list[Check]:
    checks: list[Check] = []
    for raw in expectations:
        checks.extend(_one(raw, facts))
    return checks


def _one(raw: Mapping[str, Any], facts: RunFacts) -> list[Check]:
    for key, handler in _RUN_LEVEL.items():
        if key in raw:
            return [handler(raw, facts)]
    return [_per_call(raw, facts)]


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
    results = [(call, test(call)) for call in calls]
    bad = [(call, why) for call, why in results if why]
    passed = bool(calls) and (len(bad) < len(calls) if mode_any else not bad)
    if passed:
        actual = f"held for {len(calls) - len(bad)} of {len(calls)} calls"
    elif not calls:
        actual = "no call ran"
    else:
        shown = "; ".join(f"{c.call_id}: {why}" for c, why in bad[:3])
        more = f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
        actual = shown + more
    return Check(title=raw.get("title", title), passed=passed, expected=expected, actual=actual)


def _call_test(raw: Mapping[str, Any], facts: RunFacts) -> CallTest:
    if "outcome" in raw:
        want = raw["outcome"]
        return (
            f"every call ends in {want}",
            want,
            lambda c: "" if c.outcome == want else f"ended in {c.outcome} at {c.terminal_step}",
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
    if "call_max_ms" in raw:
        limit = float(raw["call_max_ms"])
        return (
            f"calls last at most {limit:.0f} ms",
            f"<= {limit:.0f} ms",
            lambda c: "" if c.duration_ms <= limit else f"lasted {c.duration_ms:.0f} ms",
        )
    raise AssertionError(f"unhandled expectation {sorted(raw)}")  # the schema forbids it


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

    def test(call: CallResult) -> str:
        segs = [s for s in call.segments if s.step_id == step_id]
        if not segs:
            return f"{step_id} did not run"
        for seg in segs:
            why = _check_segment(spec, dict(seg.detail), seg.duration_ms, low, high)
            if why:
                return why
        return ""

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
    return (
        f"no silence longer than {limit:.0f} ms",
        f"longest silence <= {limit:.0f} ms (+{allowance:.0f} noise)",
        lambda c: (
            ""
            if c.max_dead_air_ms <= limit + allowance
            else f"silent for {c.max_dead_air_ms:.0f} ms"
        ),
    )


# -- run-level expectations ------------------------------------------------------------------


def _breaker(raw: Mapping[str, Any], facts: RunFacts) -> Check:
    spec = raw["breaker"]
    key = spec["key"]
    moves = [e for e in facts.events if e.kind == "breaker" and e.data.get("key") == key]
    opened = [e for e in moves if e.data.get("new") == "open" and e.data.get("old") == "closed"]
    skipped = {e.call_id for e in facts.events if e.kind == "circuit_open"}
    order = [c.call_id for c in facts.calls]
    problems: list[str] = []
    wants: list[str] = []
    if spec.get("never_opens"):
        wants.append("never opens")
        if opened:
            problems.append(f"opened during {opened[0].call_id}")
    if "opens_after_call" in spec:
        n = spec["opens_after_call"]
        wants.append(f"opens during call {n}")
        at = order.index(opened[0].call_id) + 1 if opened and opened[0].call_id in order else None
        if at != n:
            problems.append("never opened" if at is None else f"opened during call {at}")
    if "skipped_calls_min" in spec:
        n = spec["skipped_calls_min"]
        wants.append(f">= {n} calls skip the request")
        if len(skipped) < n:
            problems.append(f"{len(skipped)} calls skipped")
    for flag, old, new in (
        ("half_opens", "open", "half_open"),
        ("closes_again", "half_open", "closed"),
    ):
        if spec.get(flag):
            wants.append(f"{old} -> {new}")
            if not any(e.data.get("old") == old and e.data.get("new") == new for e in moves):
                problems.append(f"no {old} -> {new}")
    history = (
        " ".join(f"{e.data.get('old')}->{e.data.get('new')}@{e.call_id}" for e in moves)
        or "no transitions"
    )
    return Check(
        title=raw.get("title", f"breaker {key}: " + ", ".join(wants)),
        passed=not problems,
        expected=", ".join(wants),
        actual=("; ".join(problems) + f" [{history}]") if problems else history,
    )


def _event(raw: Mapping[str, Any], facts: RunFacts) -> Check:
    spec = raw["event"]
    where = spec.get("where", {})
    found = [
        e
        for e in facts.events
        if e.kind == spec["kind"] and all(e.data.get(k) == v for k, v in where.items())
    ]
    label = spec["kind"] + (f" {where}" if where else "")
    low = spec.get("count_min", 1 if spec.get("present", True) else 0)
    high = spec.get("count_max", None if spec.get("present", True) else 0)
    passed = len(found) >= low and (high is None or len(found) <= high)
    expected = f"{label} seen {low}..{'' if high is None else high} times"
    return Check(
        title=raw.get("title", f"event {label} {'seen' if high != 0 else 'never seen'}"),
        passed=passed,
        expected=expected,
        actual=f"seen {len(found)} times",
    )


def _requests(raw: Mapping[str, Any], facts: RunFacts) -> Check:
    spec = raw["requests"]
    paths = facts.requests.get(spec["backend"], ())
    count = sum(1 for p in paths if "path" not in spec or p == spec["path"])
    low, high = spec.get("min", 0), spec.get("max")
    label = f"{spec['backend']} {spec.get('path', '')}".strip()
    return Check(
        title=raw.get("title", f"{label} gets {low}..{'' if high is None else high} requests"),
        passed=count >= low and (high is None or count <= high),
        expected=f"{low}..{'' if high is None else high} requests",
        actual=f"{count} requests",
    )


def error_windows(events: Sequence[Event], window_ms: int) -> list[dict[str, Any]]:
    """Error rate of integration steps per window of `window_ms` (the guide's alert rule)."""
    ends = [e for e in events if e.kind == "step_end"]
    if not ends:
        return []
    start = min(e.t_ms for e in ends)
    windows: dict[int, list[Event]] = {}
    for e in ends:
        windows.setdefault(int((e.t_ms - start) // window_ms), []).append(e)
    out = []
    for index in sorted(windows):
        group = windows[index]
        errors = sum(1 for e in group if e.data.get("outcome") in _FAILED)
        out.append(
            {
                "start_ms": start + index * window_ms,
                "end_ms": start + (index + 1) * window_ms,
                "requests": len(group),
                "errors": errors,
                "rate": errors / len(group),
            }
        )
    return out


def alert_fired(events: Sequence[Event], profile: PlatformProfile) -> bool:
    return any(
        w["rate"] > profile.alert_error_rate for w in error_windows(events, profile.alert_window_ms)
    )


def _alert(raw: Mapping[str, Any], facts: RunFacts) -> Check:
    want = raw["alert"] == "fired"
    windows = error_windows(facts.events, facts.profile.alert_window_ms)
    fired = alert_fired(facts.events, facts.profile)
    worst = max((w["rate"] for w in windows), default=0.0)
    return Check(
        title=raw.get("title", f"error-rate alert {'fires' if want else 'stays quiet'}"),
        passed=fired == want,
        expected=f"alert {'fired' if want else 'not fired'}"
        f" (rate > {facts.profile.alert_error_rate:.0%})",
        actual=f"worst window error rate {worst:.0%}, alert {'fired' if fired else 'not fired'}",
    )


_RUN_LEVEL = {"breaker": _breaker, "event": _event, "requests": _requests, "alert": _alert}
