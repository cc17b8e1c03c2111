"""Expectations over a whole run: breaker transitions, audit events, backend requests, alerts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.backends.faults import RecordedRequest
from harness.events import Event
from harness.flow.profile import PlatformProfile
from harness.scenario.checks import Check, RunFacts

__all__ = ["RUN_LEVEL", "alert_fired", "error_windows"]

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
    chosen = [r for r in facts.requests.get(spec["backend"], ()) if _counted(spec, r)]
    low, high = spec.get("min", 0), spec.get("max")
    label = " ".join(
        str(v) for v in (spec.get("method"), spec["backend"], spec.get("path")) if v
    ) + (f" from {spec['step']}" if spec.get("step") else "")
    span = f"{low}..{'' if high is None else high}"
    counted = low > 0 or high is not None or not ({"header", "same_header"} & set(spec))
    wants = [f"{span} requests" + (" per call" if spec.get("per_call") else "")] if counted else []
    groups = _by_call(chosen) if spec.get("per_call") else {"": chosen}
    problems = [
        f"{len(group)} requests" + (f" in {call}" if call else "")
        for call, group in groups.items()
        if len(group) < low or (high is not None and len(group) > high)
    ]
    if spec.get("per_call") and low > 0 and not groups:
        problems.append("no call sent one")
    if "header" in spec:
        wants.append(f"each with {spec['header']}")
        missing = [r for r in chosen if r.header(spec["header"]) in (None, "")]
        if missing:
            problems.append(f"{len(missing)} of {len(chosen)} without {spec['header']}")
    if "same_header" in spec:
        name = spec["same_header"]
        wants.append(f"one {name} per call")
        for call, group in _by_call(chosen).items():
            values = {r.header(name) for r in group}
            if len(group) > 1 and (len(values) > 1 or values & {None, ""}):
                shown = ", ".join(sorted(str(v or "none") for v in values))
                problems.append(f"{len(group)} requests in {call} with {name}: {shown}")
    actual = "; ".join(problems[:3]) or f"{len(chosen)} requests"
    return Check(
        title=raw.get("title", f"{label} gets " + ", ".join(wants)),
        passed=not problems,
        expected=", ".join(wants),
        actual=actual,
    )


def _counted(spec: Mapping[str, Any], request: RecordedRequest) -> bool:
    if "path" in spec and request.path != spec["path"]:
        return False
    if "method" in spec and request.method != str(spec["method"]).upper():
        return False
    step = spec.get("step")
    return not step or request.step == step or request.step.rpartition("/")[2] == step


def _by_call(requests: Sequence[RecordedRequest]) -> dict[str, list[RecordedRequest]]:
    groups: dict[str, list[RecordedRequest]] = {}
    for request in requests:
        groups.setdefault(request.call_id or "(untraced)", []).append(request)
    return groups


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


RUN_LEVEL: dict[str, Callable[[Mapping[str, Any], RunFacts], Check]] = {
    "breaker": _breaker,
    "event": _event,
    "requests": _requests,
    "alert": _alert,
}
