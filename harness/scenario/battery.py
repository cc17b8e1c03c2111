"""The standard fault battery, derived from the flows themselves.

For every HTTP Request step whose host the project serves (a stub from its spec, or
a proxy in front of its real backend): a baseline without faults, then one scenario
per outcome class a backend can produce: latency over the step timeout, connection
refused, a 5xx storm (through the breaker when one is configured), 429 with
Retry-After, 400, 401, 403, 202, an empty array, a malformed body, an oversized body
and a schema drift per mapped field. The expectations are what the flow's own configuration implies:

- the timeout fires within the step's computed worst case (`budget`);
- the error router sends each outcome class somewhere that is not the success
  branch (the steps `harness.flow.lint.router` finds a plausible 2xx reaching);
- 4xx other than 429 is answered in one attempt; a breaker opens under a storm;
- no caller hears more silence than the dead-air budget.

Every check's title names the step and the outcome class, so a failure reads as
"http-get-order: timeout must not reach the success branch (say-status)".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harness.config import BackendEntry
from harness.flow.http_config import HttpStepConfig, parse_http_config
from harness.flow.lint.router import evaluate_router, router_of
from harness.flow.model import Flow, FlowSet, Step
from harness.flow.profile import CXONE, PlatformProfile
from harness.scenario.model import Callers, Fault, Scenario

__all__ = ["BatteryOptions", "battery"]

# A path's last field name: `$.data[0].status` -> status, `$.order.id` -> id.
_FIELD = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)")
# Past this worst case a real-time run is slow; flow time runs faster instead.
_REAL_TIME_MS = 4000


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryOptions:
    """What the battery needs besides the flows (all from the project configuration)."""

    hosts: Mapping[str, BackendEntry]
    secrets: Mapping[str, str] = field(default_factory=dict)
    dead_air_ms: int = 8000
    dtmf: tuple[str, ...] = ()
    profile: PlatformProfile = CXONE


def battery(flow_set_name: str, flows: FlowSet, options: BatteryOptions) -> list[Scenario]:
    """Every battery scenario for the HTTP steps of `flows` whose host the project serves."""
    scenarios: list[Scenario] = []
    for flow in flows:
        entry = _entry_reaching(flows, flow)
        if entry is None:
            continue  # a scheduled job or an orphan: no caller is ever on its path
        for step in flow.http_steps():
            host = urlsplit(str(step.config.get("url", ""))).hostname or ""
            if host in options.hosts:
                scenarios += _Step(flow_set_name, flow, step, entry, host, options).scenarios()
    return scenarios


class _Step:
    """The battery of one HTTP step."""

    def __init__(
        self, set_name: str, flow: Flow, step: Step, entry: str, host: str, options: BatteryOptions
    ) -> None:
        self.set_name, self.flow, self.step, self.entry = set_name, flow, step, entry
        self.host, self.options = host, options
        self.config: HttpStepConfig = parse_http_config(step, options.profile, flow)
        router = router_of(flow, step)
        verdict = evaluate_router(flow, step, router) if router is not None else None
        self.success = sorted(verdict.success_steps) if verdict is not None else []
        self.routed_vars = _router_variables(router)

    def scenarios(self) -> list[Scenario]:
        sid, cfg = self.step.id, self.config
        http = self._http
        reach = [{"visits": target, "calls": "any",
                  "title": f"{sid}: a healthy backend leads to the success branch ({target})"}
                 for target in self.success[:1]]  # fmt: skip
        out = [
            # The baseline proves the stub, the credentials and the caller's input get
            # through: without it every "must not reach success" check could pass vacuously.
            self._make("baseline", None, reach, guard=False),
            self._make(
                "timeout",
                Fault(kind="toxic", target=self.host, spec=self._latency()),
                [{"step": {"id": sid, "outcome": "timeout", "max_ms": "budget"},
                  "title": f"{sid}: timeout fires within its budget"}],
                time_scale=self._scale(),
            ),
            self._make(
                "connection",
                Fault(kind="disable", target=self.host, spec={"enabled": False}),
                [{"step": {"id": sid, "outcome": "connection_error"},
                  "title": f"{sid}: connection refused is a connection_error"}],
            ),
            self._storm(),
            self._make("429", http({"kind": "rate_limit", "retry_after": 1}), []),
            self._make("400", http({"kind": "status", "status": 400}), self._one_attempt("400")),
            self._make("401", http({"kind": "status", "status": 401}), []),
            self._make("403", http(_SCOPE_403), self._one_attempt("403")),
            self._make("202", http({"kind": "accepted"}), []),
            self._make("malformed", http({"kind": "malformed"}), [], guard=bool(cfg.mapping)),
            self._make(
                "too_large",
                http({"kind": "oversized", "bytes": self.options.profile.response_cap_bytes + 1}),
                [{"step": {"id": sid, "outcome": "too_large"},
                  "title": f"{sid}: an oversized body is too_large"}],
            ),
        ]  # fmt: skip
        if any("[" in path or ".length" in path for path in cfg.mapping.values()):
            out.append(self._make("empty", http({"kind": "empty"}), []))
        out += [self._drift(variable, path) for variable, path in cfg.mapping.items()]
        return [s for s in out if s is not None]

    def _http(self, spec: Mapping[str, Any]) -> Fault:
        return Fault(kind="http", target=self.host, spec=dict(spec))

    def _latency(self) -> dict[str, Any]:
        # Longer than the timeout: every attempt times out, whatever the scale.
        latency = self.config.timeout_ms + 500
        return {"type": "latency", "stream": "downstream", "attributes": {"latency": latency}}

    def _scale(self) -> float:
        worst = self.config.attempts * (self.config.timeout_ms + self.config.retry.max_delay_ms)
        return float(max(1, math.ceil(worst / _REAL_TIME_MS)))

    def _storm(self) -> Scenario | None:
        sid, breaker = self.step.id, self.config.breaker
        fault = self._http({"kind": "status", "status": 503})
        if breaker is None:
            checks = [{"step": {"id": sid, "outcome": "http_error"},
                       "title": f"{sid}: a 5xx storm is an http_error"}]  # fmt: skip
            return self._make("5xx", fault, checks)
        last = breaker.failure_threshold + 1
        opens: list[dict[str, Any]] = [
            {"step": {"id": sid, "outcome": "circuit_open", "attempts": 0}, "calls": [last],
             "title": f"{sid}: a 5xx storm opens the breaker '{breaker.key}'"},
        ]  # fmt: skip
        return self._make("5xx", fault, opens, callers=last)

    def _one_attempt(self, cls: str) -> list[dict[str, Any]]:
        title = f"{self.step.id}: {cls} is not retried (a 4xx will not change)"
        return [{"step": {"id": self.step.id, "attempts": 1}, "title": title}]

    def _drift(self, variable: str, path: str) -> Scenario | None:
        names = _FIELD.findall(path)
        if not names:
            return None
        name = names[-1]
        spec = {"kind": "rename_field", "from": name, "to": f"{name}_renamed"}
        # Only a field the router reads decides the branch; others may be null harmlessly.
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
    ) -> Scenario:
        sid = self.step.id
        expect = list(checks)
        if guard:
            expect += [
                {"never_visits": target, "title": f"{sid}: {cls} must not reach the success "
                 f"branch ({target})"}
                for target in self.success
            ]  # fmt: skip
        budget = self.options.dead_air_ms
        expect.append(
            {"dead_air_max_ms": budget, "title": f"{sid}: {cls} keeps dead air under {budget} ms"}
        )
        spec = Callers(count=callers)
        if self.options.dtmf:
            spec = Callers(count=callers, dtmf=self.options.dtmf)
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


def battery_for(
    flow_sets: Sequence[tuple[str, FlowSet]], options: BatteryOptions
) -> list[Scenario]:
    """The battery of every flow set, in order."""
    return [s for name, flows in flow_sets for s in battery(name, flows, options)]
