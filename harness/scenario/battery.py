"""The standard fault battery, derived from the flows themselves.

For every HTTP Request step whose host the project serves (a stub from its spec, or a
proxy in front of its real backend), and that some caller input reaches: a baseline
without faults, then one scenario per outcome class a backend can produce: latency over
the step timeout, connection refused, NXDOMAIN, a 5xx storm (through the breaker when one
is configured), 429 with Retry-After, 400, 401, 403, 404, 202 (when the spec or the flow
knows it) with and without its callback, a malformed body, an oversized body, an empty
array and a schema drift per mapped field.

Every fault is aimed at that one step's requests (`Fault.step`): the host's other steps
answer normally, so the caller gets past an earlier GET to the POST under test. The
caller's keys come from :mod:`harness.scenario.reach` (the flows' own guards, tried
against the real runner); `dtmf` in the project configuration overrides them. A step no
input reaches gets a note naming the guard in the way, never a silent pass. A run whose
step never ran under its fault is an error of the battery (`FaultDriver.unexercised`).

The expectations are what the flow's own configuration implies, and what a caller or a
backend would notice:

- the timeout fires within the step's computed worst case (`budget`);
- after a failure class, the call does not go on where a completed 2xx goes (the
  router's success branch, `harness.flow.lint.router`); a 202 goes there only through
  its callback;
- 4xx other than 429 is answered in one attempt; a breaker opens under a storm;
- a POST or PATCH is never submitted twice in one call without one shared
  Idempotency-Key (a duplicate submission, seen in what the backend received);
- no null, undefined or JSON fragment reaches a prompt, a request or a transfer target
  (an empty array is a valid answer; a blank in what the caller hears is not);
- no caller hears more silence than the dead-air budget.

Every check's title names the step and the outcome class, so a failure reads as
"http-get-order: timeout must not reach the success branch (say-status)".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harness.backends.openapi_examples import Operation, load_operations
from harness.config import BackendEntry
from harness.flow.expr import placeholders
from harness.flow.http_config import HttpStepConfig, parse_http_config
from harness.flow.lint.router import evaluate_router, router_of
from harness.flow.model import Flow, FlowSet, Step
from harness.flow.profile import CXONE, PlatformProfile
from harness.scenario.model import Callers, Fault, Scenario
from harness.scenario.reach import Reach, reach_steps

__all__ = ["Battery", "BatteryOptions", "battery", "battery_for"]

# A path's last field name: `$.data[0].status` -> status, `$.order.id` -> id.
_FIELD = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)")
# Past this worst case a real-time run is slow; flow time runs faster instead.
_REAL_TIME_MS = 4000
# Methods a retry may submit twice: the guide's idempotency trap.
_SUBMITS = frozenset({"POST", "PATCH"})
_CALLBACK_AFTER_MS = 1000
_KEY_HEADER = "Idempotency-Key"


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryOptions:
    """What the battery needs besides the flows (all from the project configuration)."""

    hosts: Mapping[str, BackendEntry]
    secrets: Mapping[str, str] = field(default_factory=dict)
    dead_air_ms: int = 8000
    dtmf: tuple[str, ...] = ()
    profile: PlatformProfile = CXONE


@dataclass(kw_only=True)
class Battery:
    """The battery's scenarios, and one note per HTTP step it could not test."""

    scenarios: list[Scenario] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def battery(flow_set_name: str, flows: FlowSet, options: BatteryOptions) -> Battery:
    """Every battery scenario for the HTTP steps of `flows` whose host the project serves."""
    out = Battery()
    wanted: dict[str, list[tuple[Flow, Step, str]]] = {}
    for flow in flows:
        entry = _entry_reaching(flows, flow)
        if entry is None:
            continue  # a scheduled job or an orphan: no caller is ever on its path
        for step in flow.http_steps():
            host = urlsplit(str(step.config.get("url", ""))).hostname or ""
            if host in options.hosts:
                wanted.setdefault(entry, []).append((flow, step, host))
    operations = _operations(options.hosts)
    breakers = _breaker_keys(wanted.values(), options.profile)
    for entry, steps in wanted.items():
        reaches = await _reach(flows, entry, steps, options)
        for flow, step, host in steps:
            reach = reaches[f"{flow.id}/{step.id}"]
            if reach.dtmf is None:
                out.notes.append(
                    f"[{flow_set_name}] {flow.id}/{step.id}: no battery, no caller input "
                    f"reaches it: {reach.blocked} (set dtmf in ivr-harness.toml to override)"
                )
                continue
            plan = _Step(flow_set_name, flow, step, entry, host, options, reach,
                         _sharing(reach, breakers))  # fmt: skip
            out.scenarios += plan.scenarios(_operation(operations.get(host, ()), step))
    return out


async def battery_for(
    flow_sets: Sequence[tuple[str, FlowSet]], options: BatteryOptions
) -> Battery:
    """The battery of every flow set, in order."""
    out = Battery()
    for name, flows in flow_sets:
        one = await battery(name, flows, options)
        out.scenarios += one.scenarios
        out.notes += one.notes
    return out


async def _reach(
    flows: FlowSet, entry: str, steps: list[tuple[Flow, Step, str]], options: BatteryOptions
) -> dict[str, Reach]:
    refs = [f"{flow.id}/{step.id}" for flow, step, _ in steps]
    if options.dtmf:  # the configuration's keys win
        return {ref: Reach(step=ref, dtmf=options.dtmf) for ref in refs}
    return await reach_steps(
        flows, entry, refs, hosts=options.hosts, variables=options.secrets, profile=options.profile
    )


def _breaker_keys(
    steps: Iterable[list[tuple[Flow, Step, str]]], profile: PlatformProfile
) -> dict[str, str]:
    """The breaker key of every HTTP step that has one (`flow/step` -> key)."""
    out: dict[str, str] = {}
    for flow, step, _ in (one for group in steps for one in group):
        breaker = parse_http_config(step, profile, flow).breaker
        if breaker is not None:
            out[f"{flow.id}/{step.id}"] = breaker.key
    return out


def _sharing(reach: Reach, breakers: Mapping[str, str]) -> tuple[str, ...]:
    """The other steps on this step's breaker that the reaching call runs."""
    key = breakers.get(reach.step)
    if key is None:
        return ()
    return tuple(r for r in reach.http_steps if r != reach.step and breakers.get(r) == key)


def _operations(hosts: Mapping[str, BackendEntry]) -> dict[str, list[Operation]]:
    return {
        host: load_operations(entry.spec)[1]
        for host, entry in hosts.items()
        if entry.spec is not None
    }


def _operation(operations: Sequence[Operation], step: Step) -> Operation | None:
    url = re.sub(r"\{\{.*?\}\}", "x", str(step.config.get("url", "")))
    path = urlsplit(url).path
    method = str(step.config.get("method", "GET"))
    return next((op for op in operations if op.matches(method, path)), None)


class _Step:
    """The battery of one HTTP step."""

    def __init__(
        self,
        set_name: str,
        flow: Flow,
        step: Step,
        entry: str,
        host: str,
        options: BatteryOptions,
        reach: Reach,
        sharing: tuple[str, ...] = (),
    ) -> None:
        self.set_name, self.flow, self.step = set_name, flow, step
        self.sharing = sharing
        self.entry, self.host, self.options, self.reach = entry, host, options, reach
        self.ref = f"{flow.id}/{step.id}"
        self.config: HttpStepConfig = parse_http_config(step, options.profile, flow)
        router = router_of(flow, step)
        verdict = evaluate_router(flow, step, router) if router is not None else None
        self.success = sorted(verdict.success_steps) if verdict is not None else []
        self.accepted_to = verdict.route("202").target if verdict is not None else None
        self.routed_vars = _router_variables(router)

    def scenarios(self, operation: Operation | None) -> list[Scenario]:
        sid, cfg = self.step.id, self.config
        http = self._http
        healthy: list[dict[str, Any]] = [
            {"step": {"id": sid, "outcome": "success"},
             "title": f"{sid}: a healthy backend answers with a success"},
        ]  # fmt: skip
        if self.reach.landing:
            healthy.append({"lands": {"after": sid, "in": [self.reach.landing]},
                            "title": f"{sid}: a healthy backend leads on to "
                                     f"{self.reach.landing}"})  # fmt: skip
        out = [
            # The baseline proves the stub, the credentials and the caller's input get
            # through: without it every "must not reach success" check could pass vacuously.
            self._make("baseline", None, healthy, guard=False),
            self._make(
                "timeout",
                self._fault("toxic", self._latency()),
                [{"step": {"id": sid, "outcome": "timeout", "max_ms": "budget"},
                  "title": f"{sid}: timeout fires within its budget"}],
                time_scale=self._scale(),
            ),
            self._make(
                "connection",
                self._fault("disable", {"enabled": False}),
                [self._outcome("connection_error", "connection refused is a connection_error")],
            ),
            self._make(
                "dns",
                self._fault("dns", {"kind": "nxdomain"}),
                [self._outcome("dns_error", "an unknown host (NXDOMAIN) is a dns_error")],
            ),
            self._storm(),
            self._make("429", http({"kind": "rate_limit", "retry_after": 1}), []),
            self._make("400", http({"kind": "status", "status": 400}), self._one_attempt("400")),
            self._make("401", http({"kind": "status", "status": 401}), []),
            self._make("403", http(_SCOPE_403), self._one_attempt("403")),
            self._make("404", http({"kind": "not_found"}), self._one_attempt("404")),
            self._make("malformed", http({"kind": "malformed"}), [], guard=bool(cfg.mapping)),
            self._make(
                "too_large",
                http({"kind": "oversized", "bytes": self.options.profile.response_cap_bytes + 1}),
                [self._outcome("too_large", "an oversized body is too_large")],
            ),
        ]  # fmt: skip
        if self._knows_202(operation):
            out += self._accepted()
        if any("[" in path or ".length" in path for path in cfg.mapping.values()):
            # An empty list is often a valid answer ("no free slots"): only what the
            # caller then hears is judged, never which branch handles it.
            out.append(self._make("empty", http({"kind": "empty"}), [], guard=False))
        drifts = [self._drift(variable, path) for variable, path in cfg.mapping.items()]
        return out + [s for s in drifts if s is not None]

    # -- faults -----------------------------------------------------------------------

    def _fault(self, kind: str, spec: Mapping[str, Any]) -> Fault:
        return Fault(kind=kind, target=self.host, spec=dict(spec), step=self.ref)

    def _http(self, spec: Mapping[str, Any]) -> Fault:
        return self._fault("http", spec)

    def _latency(self) -> dict[str, Any]:
        # Longer than the timeout: every attempt times out, whatever the scale.
        latency = self.config.timeout_ms + 500
        return {"type": "latency", "stream": "downstream", "attributes": {"latency": latency}}

    def _scale(self, extra_ms: float = 0) -> float:
        worst = self.config.attempts * (self.config.timeout_ms + self.config.retry.max_delay_ms)
        return float(max(1, math.ceil((worst + extra_ms) / _REAL_TIME_MS)))

    # -- scenarios ----------------------------------------------------------------------

    def _outcome(self, outcome: str, text: str) -> dict[str, Any]:
        sid = self.step.id
        return {"step": {"id": sid, "outcome": outcome}, "title": f"{sid}: {text}"}

    def _storm(self) -> Scenario:
        sid, breaker, attempts = self.step.id, self.config.breaker, self.config.attempts
        fault = self._http({"kind": "status", "status": 503})
        # The retry budget, counted where it is spent: at the backend.
        bounded = {"requests": {"backend": self.host, "step": self.ref, "per_call": True,
                                "max": attempts},
                   "title": f"{sid}: a 5xx storm gets at most {attempts} requests per call"}
        if breaker is None:
            return self._make("5xx", fault, [self._outcome("http_error", "a 5xx storm is an "
                                                            "http_error"), bounded])
        if self.sharing:
            # Another step on the breaker runs in the same call: while it succeeds (before
            # this step, or after it when the flow goes on past the failure) it resets the
            # count, and once the breaker opens it may be refused first and the call never
            # get here. Whether the breaker opens then depends on the flow's path, not on
            # this step: one call, in which the storm ends this step as an error.
            others = ", ".join(self.sharing)
            one = {"step": {"id": sid, "outcome_in": ["http_error", "circuit_open"]},
                   "title": f"{sid}: a 5xx storm is an http_error (or circuit_open once "
                            f"the breaker '{breaker.key}' it shares with {others} opens)"}
            return self._make("5xx", fault, [one, bounded])
        last = breaker.failure_threshold + 1
        opens: list[dict[str, Any]] = [
            {"step": {"id": sid, "outcome": "circuit_open", "attempts": 0}, "calls": [last],
             "title": f"{sid}: a 5xx storm opens the breaker '{breaker.key}'"}, bounded,
        ]  # fmt: skip
        return self._make("5xx", fault, opens, callers=last)

    def _knows_202(self, operation: Operation | None) -> bool:
        """A 202 is a class of its own when the spec documents it or the flow handles it."""
        if operation is not None and "202" in operation.documented:
            return True
        router = router_of(self.flow, self.step)
        text = " ".join(str(c.get("expression", "")) for c in
                        (router.config.get("conditions", []) if router else []))  # fmt: skip
        return "202" in text or "accepted" in text

    def _accepted(self) -> list[Scenario]:
        sid = self.step.id
        wait = self._wait_after_202()
        hold = float(wait.config.get("maxWaitMs", 0)) if wait is not None else 0.0
        # No callback ever: the flow must not tell the caller it is done.
        out = [self._make("202", self._http({"kind": "accepted"}), [], time_scale=self._scale(hold),
                          success_title="202 must not reach the success branch {target} before "
                                        "its callback")]  # fmt: skip
        callback = self._callback(wait)
        if wait is not None and callback is not None and wait.next_step_id:
            checks = [{"visits": wait.next_step_id,
                       "title": f"{sid}: a 202 whose callback arrives goes on to "
                                f"{wait.next_step_id}"}]  # fmt: skip
            out.append(
                self._make("202-callback", self._http(callback), checks, guard=False,
                           time_scale=self._scale(_CALLBACK_AFTER_MS * 2))  # fmt: skip
            )
        return out

    def _wait_after_202(self) -> Step | None:
        """The Wait step a 202 is routed to (through DataAPI steps), if any."""
        target = self.accepted_to
        for _ in range(10):
            step = self.flow.step(target)
            if step is None:
                return None
            if step.type == "Wait":
                return step
            if step.type != "DataAPI":
                return None
            target = step.next_step_id
        return None

    def _callback(self, wait: Step | None) -> dict[str, Any] | None:
        """The `accepted` fault whose callback lands on `wait`'s key: `PREFIX:{{var}}`, with
        `var` sent in one of the step's request headers (the backend echoes it back)."""
        if wait is None:
            return None
        match = re.fullmatch(r"([A-Za-z0-9_.-]+):\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}",
                             str(wait.config.get("key", "")))  # fmt: skip
        if match is None:
            return None
        prefix, variable = match.groups()
        carriers = [
            name for name, value in self.config.headers.items()
            if [p.expr for p in placeholders(str(value))] == [variable]
            and str(value).strip() == "{{" + variable + "}}"
        ]  # fmt: skip
        # A correlation header is what a backend echoes; an Idempotency-Key is a last resort
        # (a flow that drops it must still get its callback, and fail for the duplicate).
        carriers.sort(key=lambda n: (0 if "correlation" in n.lower() else
                                     2 if "idempotency" in n.lower() else 1))  # fmt: skip
        header = carriers[0] if carriers else None
        if header is None:
            return None
        return {"kind": "accepted", "callbackAfterMs": _CALLBACK_AFTER_MS,
                "callbackUrl": f"/webhooks/{prefix}", "correlationHeader": header}

    def _one_attempt(self, cls: str) -> list[dict[str, Any]]:
        title = f"{self.step.id}: {cls} is not retried (a 4xx will not change)"
        return [{"step": {"id": self.step.id, "attempts": 1}, "title": title}]

    def _drift(self, variable: str, path: str) -> Scenario | None:
        names = _FIELD.findall(path)
        if names[-1:] == ["length"] and len(names) > 1:
            # `$.items.length` counts an array: the field that can drift is the array
            # (`length` is the array's own property, no field a backend could rename).
            names.pop()
        if not names:
            return None
        name = names[-1]
        spec = {"kind": "rename_field", "from": name, "to": f"{name}_renamed"}
        # Only a field the router reads decides the branch; others may be null harmlessly
        # (and a null that reaches what the caller hears fails `clean_output`).
        return self._make(f"drift-{name}", self._http(spec), [], guard=variable in self.routed_vars)

    def _make(
        self,
        cls: str,
        fault: Fault | None,
        checks: list[dict[str, Any]],
        *,
        guard: bool = True,
        callers: int = 1,
        time_scale: float = 1.0,
        success_title: str = "{cls} must not reach the success branch {target}",
    ) -> Scenario:
        sid = self.step.id
        expect = list(checks)
        if guard and self.success:
            for target in self.success:
                title = success_title.format(cls=cls, target=f"({target})")
                expect.append({"lands": {"after": sid, "not_in": [target]},
                               "title": f"{sid}: {title}"})  # fmt: skip
        expect.append({"clean_output": True, "title": f"{sid}: {cls}: no null or JSON fragment "
                       "reaches a prompt, a request or a transfer target"})  # fmt: skip
        expect.append({"outcome_not": ["dead_end", "error"], "title": f"{sid}: {cls}: the "
                       "caller never hears the error tone (a dead end or an unhandled error)"})
        if self.config.method in _SUBMITS and self.config.attempts > 1:
            key = self._key_header()
            expect.append({
                "requests": {"backend": self.host, "step": self.ref, "per_call": True,
                             "same_header": key},
                "title": f"{sid}: {cls}: no duplicate submission (every retried "
                         f"{self.config.method} carries one {key})",
            })  # fmt: skip
        budget = self.options.dead_air_ms
        expect.append(
            {"dead_air_max_ms": budget, "title": f"{sid}: {cls} keeps dead air under {budget} ms"}
        )
        spec = Callers(count=callers, dtmf=self.reach.dtmf or ())
        return Scenario(
            name=f"battery-{self.flow.id}-{sid}-{cls}",
            path=None,
            description=f"generated: {cls} from {self.host} at step {sid} of {self.flow.id}",
            entry=self.entry,
            flows=(self.set_name,),
            tags=("battery", cls),
            time_scale=time_scale,
            callers=spec,
            faults=(fault,) if fault is not None else (),
            expect=tuple(expect),
            hosts=self.options.hosts,
            secrets=self.options.secrets,
        )

    def _key_header(self) -> str:
        return next((name for name in self.config.headers if "idempotency" in name.lower()),
                    _KEY_HEADER)  # fmt: skip


_SCOPE_403 = {
    "kind": "status",
    "status": 403,
    "headers": {"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
    "body": {"error": "insufficient_scope"},
}


def _entry_reaching(flows: FlowSet, flow: Flow) -> str | None:
    """The id of an entry flow whose calls reach `flow` (itself, or through SubFlow steps)."""
    entries = {f.id for f in flows.entry_flows()}
    callers = flows.callers()
    seen: set[str] = set()
    todo = [flow.id]
    while todo:
        current = todo.pop(0)
        if current in entries:
            return current
        seen.add(current)
        todo += [parent.id for parent, _ in callers.get(current, []) if parent.id not in seen]
    return None


def _router_variables(router: Step | None) -> set[str]:
    if router is None:
        return set()
    text = " ".join(str(c.get("expression", "")) for c in router.config.get("conditions", []))
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
