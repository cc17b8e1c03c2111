"""From a plan to documents: the flows, the OpenAPI specs and the project's secrets.

The main IVR flow reads: a greeting; the caller's identifier (CollectDigits, a guard,
a re-prompt loop with a counter); services one after another, the later ones possibly
offered in a menu; a goodbye. A service is one or two HTTP steps (the second fed by the
first's answer, possibly after "press 1 to book it"), inline or in a SubFlow, each behind
a "one moment" prompt and followed by its error router. Everything the guide asks for
is there: short timeouts inside the dead-air budget, retries on 5xx only, an
Idempotency-Key on every write, guarded `[0]`, a null check of every mapped value before
it is spoken or sent, a branch for every outcome class, a bounded Wait with progress
prompts for a 202, tokens read from Data Storage (a scheduled flow fetches them), secrets
from `[secrets]`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.testing.calls import CallBuilder, CallTargets
from harness.testing.documents import FlowDoc
from harness.testing.model import HttpStep, Ivr
from harness.testing.plan import IvrPlan, ServicePlan
from harness.testing.specs import SpecBuilder
from harness.testing.themes import Input

__all__ = ["assemble"]


@dataclass(frozen=True, slots=True)
class _Stage:
    keys: tuple[str, ...]  # what a caller keys to pass through it on a healthy day
    build: Callable[[str, tuple[str, ...]], str]  # (next step, keys so far) -> entry step


def assemble(plan: IvrPlan) -> Ivr:
    """The IVR a plan describes."""
    return _Assembler(plan).ivr()


class _Assembler:
    def __init__(self, plan: IvrPlan) -> None:
        self.plan, self.theme = plan, plan.theme
        main_id = f"{self.theme.name}-line"
        self.main = FlowDoc(id=main_id, name=f"{self.theme.name.title()} line", flow_type="IVR")
        self.flows: dict[str, FlowDoc] = {main_id: self.main}
        self.entries: dict[str, str] = {}
        self.specs: dict[str, SpecBuilder] = {}
        self.secrets: dict[str, str] = {}
        self.http: list[HttpStep] = []
        self.calls = CallBuilder(self)

    # -- what CallBuilder asks of the IVR as a whole ------------------------------------------

    def host(self, index: int) -> str:
        return f"{self.plan.hosts[index].role}.{self.theme.domain}"

    def secret(self, flow: FlowDoc, variable: str) -> str:
        """A flow variable the configuration's [secrets] fills from the environment."""
        self.secrets[variable] = variable.upper()
        flow.declare(variable)
        return variable

    def spec(self, host: str) -> SpecBuilder:
        if host not in self.specs:
            self.specs[host] = SpecBuilder(host=host, title=f"{host} API")
        return self.specs[host]

    def flow(self, doc: FlowDoc, entry: str) -> None:
        self.flows[doc.id] = doc
        self.entries[doc.id] = entry

    def record(self, step: HttpStep) -> None:
        self.http.append(step)

    @property
    def step_budget_ms(self) -> int:
        return self.plan.dead_air_ms - self.plan.margin_ms

    # -- the main flow ------------------------------------------------------------------------

    def ivr(self) -> Ivr:
        main, theme = self.main, self.theme
        goodbye = self._goodbye()
        stages: list[_Stage] = []
        if any(c.source == "id" for s in self.plan.services for c in s.calls):
            stages.append(self._input_stage(main, theme.id_input, self.plan.id_guard,
                                            self.plan.id_value))  # fmt: skip
        services = list(self.plan.services)
        menu = services[1:4] if self.plan.menu else []
        sequence = [s for s in services if s not in menu]
        stages += [self._service_stage(s, goodbye) for s in sequence]
        if menu:
            stages.append(self._menu_stage(menu, goodbye))
        entry = self._chain(stages, goodbye, ())
        main.add("welcome", "Play", {"prompt": theme.greeting, "durationMs": 2500}, entry)
        self.entries[main.id] = "welcome"
        documents = {f"{doc.id}.json": doc.document(self.entries[doc.id])
                     for doc in self.flows.values()}  # fmt: skip
        digest = hashlib.sha256(json.dumps(documents, sort_keys=True).encode()).hexdigest()
        return Ivr(
            name=f"{theme.name}-{len(self.http)}-{digest[:8]}",
            theme=theme.name,
            entry=main.id,
            flows=documents,
            specs={host: spec.document() for host, spec in sorted(self.specs.items())},
            secrets=dict(sorted(self.secrets.items())),
            environment={
                env: f"test-{env.lower().replace('_', '-')}-5e1f"
                for env in sorted(self.secrets.values())
            },  # fmt: skip
            dead_air_ms=self.plan.dead_air_ms,
            http_steps=tuple(reversed(self.http)),  # built last step first
        )

    def _chain(self, stages: list[_Stage], then: str, route: tuple[str, ...]) -> str:
        routes = []
        for stage in stages:
            routes.append(route)
            route = route + stage.keys
        entry = then
        for stage, before in reversed(list(zip(stages, routes, strict=True))):
            entry = stage.build(entry, before)
        return entry

    def agent(self, flow: FlowDoc) -> str:
        """The flow's hand-off to a person: a transfer, or voicemail."""
        if flow.flow_type != "IVR":
            raise ValueError("only the main flow hands calls to agents")
        if not flow.has("to-agent"):
            if self.plan.agent_terminal == "voicemail":
                flow.add("to-agent", "Voicemail", {"prompt": "Please leave a message."})
            else:
                flow.add("to-agent", "Transfer", {"queue": self.theme.queue})
        return "to-agent"

    def _goodbye(self) -> str:
        main = self.main
        if self.plan.goodbye == "transfer":
            main.add("anything-else", "Play", {"prompt": "Let me connect you with the team.",
                                               "durationMs": 1500}, self.agent(main))  # fmt: skip
            return "anything-else"
        main.add("goodbye", "Play", {"prompt": "Thank you for calling. Goodbye.",
                                     "durationMs": 1500}, "hang-up")  # fmt: skip
        main.add("hang-up", "Hangup", {})
        return "goodbye"

    # -- stages -------------------------------------------------------------------------------

    def _input_stage(self, flow: FlowDoc, spec: Input, guard: str, value: int) -> _Stage:
        keys = (f"{value}#",)

        def build(nxt: str, route: tuple[str, ...]) -> str:
            return self.collect(flow, spec, guard, nxt)

        return _Stage(keys=keys, build=build)

    def collect(self, flow: FlowDoc, spec: Input, guard: str, nxt: str, for_: str = "") -> str:
        """CollectDigits, its guard, and a re-prompt loop that gives up after three tries.
        `for_` names the service that asks, when several services ask for the same thing."""
        var = spec.variable
        name = var.replace("_", "-") + (f"-for-{for_}" if for_ else "")
        tries = name.replace("-", "_") + "_tries"
        flow.declare(var)
        flow.declare(tries, value=0)
        ask, check, invalid = f"ask-{name}", f"check-{name}", f"invalid-{name}"
        flow.add(ask, "CollectDigits", {
            "variable": var, "maxDigits": spec.digits, "terminator": "#",
            "prompt": f"Please enter your {spec.noun}, then press hash.", "timeoutMs": 8000,
        }, check)  # fmt: skip
        flow.add(check, "Condition", {
            "conditions": [{"expression": guard_expression(var, spec, guard), "nextStepId": nxt}],
            "defaultStepId": invalid,
        })  # fmt: skip
        flow.add(invalid, "Play", {"prompt": f"Sorry, that is not a valid {spec.noun}.",
                                   "durationMs": 2000}, f"count-{invalid}")  # fmt: skip
        flow.add(f"count-{invalid}", "DataAPI", {"operation": "evaluate",
                 "expression": f"{tries} + 1", "resultVariable": tries},
                 f"retry-{invalid}")  # fmt: skip
        flow.add(f"retry-{invalid}", "Condition", {
            "conditions": [{"expression": f"{tries} < 3", "nextStepId": ask}],
            "defaultStepId": self.agent(flow),
        })  # fmt: skip
        return ask

    def _service_stage(self, service: ServicePlan, goodbye: str) -> _Stage:
        keys: tuple[str, ...] = ()
        if service.second_input is not None:
            keys += (_second_value(service),)
        if service.confirm:
            keys += ("1",)

        def build(nxt: str, route: tuple[str, ...]) -> str:
            return self.service(service, nxt, route)

        return _Stage(keys=keys, build=build)

    def service(self, service: ServicePlan, nxt: str, route: tuple[str, ...]) -> str:
        main = self.main
        give_up = nxt if service.soft else self.agent(main)
        if service.subflow:
            entry = self._subflow_service(service, nxt, give_up, route)
        else:
            entry = self._inline_service(service, nxt, give_up, route)
        if service.second_input is None:
            return entry
        return self.collect(
            main, service.second_input, service.second_guard, entry, for_=service.name
        )

    def _inline_service(self, service: ServicePlan, nxt: str, give_up: str,
                        route: tuple[str, ...]) -> str:  # fmt: skip
        main, name = self.main, service.name
        route = route + ((_second_value(service),) if service.second_input else ())
        failed = f"{name}-unavailable"
        main.add(failed, "Play", {"prompt": "Sorry, I can't reach that service right now.",
                                  "durationMs": 2000}, give_up)  # fmt: skip
        first, *rest = service.calls
        after_first = nxt
        if rest:
            second = rest[0]
            step2 = self.calls.step_name(second)
            targets2 = self._inline_targets(main, service, second, step2, nxt, give_up, failed)
            extra = ("1",) if service.confirm else ()
            entry2 = self.calls.build(main, service, second, targets2, route + extra,
                                      previous=first)  # fmt: skip
            after_first = self._confirm(service, entry2, nxt) if service.confirm else entry2
        step1 = self.calls.step_name(first)
        targets1 = self._inline_targets(main, service, first, step1, after_first, give_up, failed,
                                        then_none=nxt)  # fmt: skip
        return self.calls.build(main, service, first, targets1, route)

    def _inline_targets(self, flow: FlowDoc, service: ServicePlan, call: Any, step: str,
                        nxt: str, give_up: str, failed: str,
                        then_none: str | None = None) -> CallTargets:  # fmt: skip
        say = f"say-{step}"
        flow.add(say, "Play", {"prompt": self.calls.speech(call), "durationMs": 3000}, nxt)
        targets = CallTargets(success=say, failure=failed)
        if call.kind in ("lookup", "update"):
            missing = f"{step}-not-found"
            flow.add(missing, "Play", {"prompt": "We could not find a match for that.",
                                       "durationMs": 2000}, give_up)  # fmt: skip
            targets = targets.with_(not_found=missing)
        if call.kind == "search":
            none = f"{step}-none"
            flow.add(none, "Play", {"prompt": f"There are no {call.resource.plural} right now.",
                                    "durationMs": 2000}, then_none or nxt)  # fmt: skip
            targets = targets.with_(none=none)
        if call.asynchronous:
            queued = f"{step}-queued"
            flow.add(queued, "Play", {"prompt": "Your request is confirmed. We will text you "
                                      "the details.", "durationMs": 2500}, nxt)  # fmt: skip
            targets = targets.with_(queued=queued)
        if call.busy_prompt:
            busy = f"{step}-busy"
            flow.add(busy, "Play", {"prompt": "Our systems are busy right now.",
                                    "durationMs": 1500}, give_up)  # fmt: skip
            flow.optional.add(busy)  # only a router that names an outage class uses it
            targets = targets.with_(outage=busy)
        return targets

    def _confirm(self, service: ServicePlan, then: str, skip: str) -> str:
        main = self.main
        var = f"{service.name.replace('-', '_')}_choice"
        main.declare(var)
        verb = "book it" if service.calls[1].kind == "submit" else "change it"
        ask, check = f"ask-{service.name}-choice", f"check-{service.name}-choice"
        main.add(ask, "CollectDigits", {"variable": var, "maxDigits": 1, "timeoutMs": 6000,
                 "prompt": f"To {verb}, press 1. Otherwise press 2."}, check)  # fmt: skip
        main.add(check, "Condition", {
            "conditions": [{"expression": f"{var} == '1'", "nextStepId": then}],
            "defaultStepId": skip,
        })  # fmt: skip
        return ask

    def _subflow_service(self, service: ServicePlan, nxt: str, give_up: str,
                         route: tuple[str, ...]) -> str:  # fmt: skip
        main, name = self.main, service.name
        route = route + ((_second_value(service),) if service.second_input else ())
        child = FlowDoc(id=f"{name}-integration", name=f"{name} integration",
                        flow_type="SubFlow")  # fmt: skip
        result = f"{name.replace('-', '_')}_result"
        child.declare(result)
        marks = {}
        for label in ("ok", "none", "not_found", "queued", "unavailable"):
            mark = f"mark-{label.replace('_', '-')}"
            child.add(mark, "DataAPI", {"operation": "evaluate", "expression": f"'{label}'",
                                        "resultVariable": result}, "done")  # fmt: skip
            marks[label] = mark
        child.add("done", "Return", {})
        first, *rest = service.calls
        ok = marks["ok"]
        if rest:
            targets2 = CallTargets(success=ok, failure=marks["unavailable"],
                                   not_found=marks["not_found"], none=marks["none"],
                                   queued=marks["queued"])  # fmt: skip
            entry2 = self.calls.build(child, service, rest[0], targets2, route, previous=first,
                                      hold="Still working on it.")  # fmt: skip
            ok = entry2
        targets1 = CallTargets(success=ok, failure=marks["unavailable"],
                               not_found=marks["not_found"], none=marks["none"],
                               queued=marks["queued"])  # fmt: skip
        entry = self.calls.build(child, service, first, targets1, route, hold=None)
        for mark in marks.values():
            if not _referenced(child, mark):
                del child.steps[mark]
        self.flow(child, entry)
        spoken = self.calls.outputs(service.calls[-1])
        passed = sorted(self.calls.inputs_of(service))
        for variable in passed:
            child.declare(variable)
        child.declare(*spoken)
        main.declare(result, *spoken)
        run, routed = f"run-{name}", f"route-{name}"
        hold = f"hold-{name}"
        main.add(hold, "Play", {"prompt": "One moment please.", "durationMs": 1500}, run)
        main.add(run, "SubFlow", {"flowId": child.id, "passThroughVariables": passed,
                 "returnVariables": [result, *spoken]}, routed)  # fmt: skip
        failed = f"{name}-unavailable"
        main.add(failed, "Play", {"prompt": "Sorry, I can't reach that service right now.",
                                  "durationMs": 2000}, give_up)  # fmt: skip
        say = f"say-{name}"
        main.add(say, "Play", {"prompt": self.calls.speech(service.calls[-1]),
                               "durationMs": 3000}, nxt)  # fmt: skip
        conditions = [
            {"expression": "subflow_error", "nextStepId": failed},
            {"expression": f"{result} == 'ok'", "nextStepId": say},
        ]
        extra = {
            "none": "There is nothing to report right now.",
            "not_found": "We could not find a match for that.",
            "queued": "Your request is confirmed. We will text you the details.",
        }
        for label, text in extra.items():
            if label in marks and _referenced(child, marks[label]):
                step = f"{name}-{label.replace('_', '-')}"
                goes = give_up if label == "not_found" else nxt
                main.add(step, "Play", {"prompt": text, "durationMs": 2000}, goes)
                conditions.append({"expression": f"{result} == '{label}'", "nextStepId": step})
        main.add(routed, "Condition", {"conditions": conditions, "defaultStepId": failed})
        return hold

    def _menu_stage(self, options: list[ServicePlan], goodbye: str) -> _Stage:
        def build(nxt: str, route: tuple[str, ...]) -> str:
            return self._menu(options, nxt, route)

        return _Stage(keys=(), build=build)

    def _menu(self, options: list[ServicePlan], nxt: str, route: tuple[str, ...]) -> str:
        main = self.main
        main.declare("menu_choice")
        main.declare("menu_tries", value=0)
        spoken = ", ".join(f"for {s.calls[0].resource.plural} press {i + 1}"
                           for i, s in enumerate(options))  # fmt: skip
        conditions = []
        for index, service in enumerate(options):
            key = str(index + 1)
            entry = self._chain([self._service_stage(service, nxt)], nxt, route + (key,))
            conditions.append({"expression": f"menu_choice == '{key}'", "nextStepId": entry})
        conditions.append({"expression": "menu_choice == '0'", "nextStepId": self.agent(main)})
        main.add("main-menu", "CollectDigits", {
            "variable": "menu_choice", "maxDigits": 1, "timeoutMs": 6000,
            "prompt": f"{spoken[0].upper()}{spoken[1:]}, or press 0 for an agent.",
        }, "route-menu")  # fmt: skip
        main.add("route-menu", "Condition", {"conditions": conditions,
                                             "defaultStepId": "menu-invalid"})  # fmt: skip
        main.add("menu-invalid", "Play", {"prompt": "Sorry, I didn't get that.",
                                          "durationMs": 1500}, "count-menu-tries")  # fmt: skip
        main.add("count-menu-tries", "DataAPI", {"operation": "evaluate",
                 "expression": "menu_tries + 1", "resultVariable": "menu_tries"},
                 "retry-menu")  # fmt: skip
        main.add("retry-menu", "Condition", {
            "conditions": [{"expression": "menu_tries < 3", "nextStepId": "main-menu"}],
            "defaultStepId": self.agent(main),
        })  # fmt: skip
        return "main-menu"


def guard_expression(var: str, spec: Input, guard: str) -> str:
    """The condition that lets a valid entry through."""
    if spec.high:
        return f"{var} >= {spec.low} && {var} <= {spec.high}"
    if guard == "length":
        return f"{var}.length == {spec.digits}"
    if guard == "regex-leading":
        return f"matches({var}, '^[1-9][0-9]{{{spec.digits - 1}}}$')"
    return f"matches({var}, '^[0-9]{{{spec.digits}}}$')"


def _second_value(service: ServicePlan) -> str:
    spec = service.second_input
    if spec is None:
        return ""
    if spec.high:
        value = min(spec.high, max(spec.low, service.second_value))
        return f"{value}#"
    return f"{service.second_value}" * spec.digits + "#"


def _referenced(flow: FlowDoc, step_id: str) -> bool:
    from harness.testing.documents import successors

    return any(step_id in successors(step) for step in flow.steps.values())
