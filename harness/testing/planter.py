"""Planted defects: the guide's traps, one change each, in a generated (correct) IVR.

Each :class:`Defect` is the IVR's flows with one edit, where it was made, and what
should notice it, decided from the generator's own knowledge of the IVR (never from the
checks being measured):

* ``static`` -- the edit breaks a rule of the guide that is visible in the documents;
  ``expect_static`` names the lint rules or consumer checks that encode it;
* ``dynamic`` -- some fault the battery produces makes a caller hear, or a backend
  receive, something wrong (dead air over the budget, an error class read as success,
  the error tone, a null spoken, a duplicate submission); ``expect_dynamic`` names the
  battery classes that produce it;
* ``equivalent`` -- neither: no per-call observation differs and no rule is broken
  (e.g. a breaker threshold raised: what it protects is capacity under load).

A defect may be both static and dynamic. The operators of `harness.flow.mutants` are
reused; the traps it lacks are written here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from harness.flow.expr import ExpressionError, Scope, evaluate_condition, truthy
from harness.flow.loader import parse_flow
from harness.flow.model import FlowSet
from harness.flow.mutants import Mutant, mutants
from harness.testing.model import HttpStep, Ivr
from harness.testing.timing import timeout_class_ms, worst_case_ms

__all__ = ["TRAPS", "Defect", "defects", "plant"]

# Outcome classes the router can see: (http_status_code, http_outcome, battery class).
_CLASSES: dict[str, tuple[int, str, str]] = {
    "202": (202, "accepted", "202"),
    "400": (400, "http_error", "400"),
    "401": (401, "auth_error", "401"),
    "403": (403, "auth_error", "403"),
    "404": (404, "http_error", "404"),
    "429": (429, "http_error", "429"),
    "5xx": (503, "http_error", "5xx"),
    "timeout": (0, "timeout", "timeout"),
    "connection": (0, "connection_error", "connection"),
    "circuit_open": (0, "circuit_open", "5xx"),
    "too_large": (200, "too_large", "too_large"),
}

_FROM_MUTANTS = (
    "timeout-removed",
    "timeout-raised",
    "retries-widened",
    "retry-on-4xx",
    "post-retried-without-idempotency-key",
    "breaker-dropped",
    "breaker-threshold-raised",
    "router-branches-swapped",
    "timeout-to-success",
    "401-403-to-success",
    "404-to-success",
    "5xx-to-success",
    "202-to-success",
    "circuit_open-to-success",
    "router-default-removed",
    "mapping-null-guard-dropped",
    "progress-prompt-removed",
)
_OWN = (
    "patch-without-idempotency-key",
    "202-read-as-done",
    "null-check-dropped",
    "4xx-collapsed-with-5xx",
    "token-fetched-inline",
)
TRAPS = (*_FROM_MUTANTS, *_OWN)


@dataclass(frozen=True, slots=True, kw_only=True)
class Defect:
    """One planted defect: the IVR's flows with one change, and who should notice it."""

    id: str
    trap: str
    flow_id: str
    step_id: str  # the HTTP step the trap concerns
    change: str
    labels: frozenset[str]  # static, dynamic, or equivalent
    expect_static: tuple[str, ...] = ()
    expect_dynamic: tuple[str, ...] = ()
    why: str = ""
    flows: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, repr=False)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(f"<Defect {self.id}: {self.change}>")

    @property
    def static(self) -> bool:
        return "static" in self.labels

    @property
    def dynamic(self) -> bool:
        return "dynamic" in self.labels

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trap": self.trap,
            "flow": self.flow_id,
            "step": self.step_id,
            "change": self.change,
            "labels": sorted(self.labels),
            "expect_static": list(self.expect_static),
            "expect_dynamic": list(self.expect_dynamic),
            "why": self.why,
        }


def defects(ivr: Ivr, traps: Iterable[str] | None = None) -> st.SearchStrategy[Defect]:
    """One planted defect of `ivr`, drawn (shrinks toward the first trap of the first step)."""
    return st.sampled_from(plant(ivr, traps))


def plant(ivr: Ivr, traps: Iterable[str] | None = None) -> list[Defect]:
    """Every defect the traps make in `ivr`: at most one per trap and HTTP step."""
    wanted = set(TRAPS if traps is None else traps)
    unknown = wanted - set(TRAPS)
    if unknown:
        raise ValueError(f"unknown traps: {sorted(unknown)}")
    found: list[Defect] = []
    flow_set = _flow_set(ivr.flows)
    for mutant in mutants(flow_set, {n: dict(d) for n, d in ivr.flows.items()}):
        if mutant.trap in wanted:
            step = _step_of(ivr, mutant.flow_id, mutant.step_id)
            if step is not None:
                found.append(_from_mutant(ivr, step, mutant))
    for step in ivr.http_steps:
        for trap, make in _OWN_EDITS.items():
            if trap in wanted:
                made = make(ivr, step)
                if made is not None:
                    found.append(made)
    order = {trap: i for i, trap in enumerate(TRAPS)}
    found.sort(key=lambda d: (ivr.http_steps.index(ivr.step(d.flow_id, d.step_id)),
                              order[d.trap]))  # fmt: skip
    return found


def _flow_set(flows: Mapping[str, Mapping[str, Any]]) -> FlowSet:
    parsed = {}
    for document in flows.values():
        flow = parse_flow(dict(document), source=json.dumps(document))
        parsed[flow.id] = flow
    return FlowSet(flows=parsed)


def _step_of(ivr: Ivr, flow_id: str, step_id: str) -> HttpStep | None:
    """The HTTP step a mutant's step belongs to (a Wait belongs to the step it waits for)."""
    return next((s for s in ivr.http_steps if s.flow_id == flow_id
                 and step_id in (s.step_id, s.wait_id)), None)  # fmt: skip


def _make(ivr: Ivr, step: HttpStep, trap: str, change: str, flows: Mapping[str, Any],
          labels: Iterable[str], static: Iterable[str] = (), dynamic: Iterable[str] = (),
          why: str = "") -> Defect:  # fmt: skip
    labels = frozenset(labels) or frozenset({"equivalent"})
    return Defect(
        id=f"{trap}@{step.flow_id}/{step.step_id}",
        trap=trap,
        flow_id=step.flow_id,
        step_id=step.step_id,
        change=change,
        labels=labels,
        expect_static=tuple(static),
        expect_dynamic=tuple(dict.fromkeys(dynamic)),
        why=why,
        flows=flows,
    )


# -- the mutate operators, labelled ---------------------------------------------------------------


def _from_mutant(ivr: Ivr, step: HttpStep, mutant: Mutant) -> Defect:
    trap, change, flows = mutant.trap, mutant.change(), mutant.documents
    before, after = _config(ivr.flows, step), _config(flows, step)
    over = _silence(ivr, flows, step) > ivr.dead_air_ms

    def made(labels: Iterable[str], static: Iterable[str] = (), dynamic: Iterable[str] = (),
             why: str = "") -> Defect:  # fmt: skip
        return _make(ivr, step, trap, change, flows, labels, static, dynamic, why)

    if trap == "timeout-removed":
        return made(
            {"static", "dynamic"},
            ["IVR001", "IVR017"],
            ["timeout"],
            "the 30 s platform default: a stalled backend is 30 s of dead air",
        )
    if trap in ("timeout-raised", "retries-widened"):
        # Heard when a backend that never answers (the battery's timeout class) holds
        # the caller past the budget; a worst case reached only by every attempt being a
        # slow error (no battery class) is visible to the lint alone.
        if timeout_class_ms(after) > ivr.dead_air_ms:
            return made(
                {"static", "dynamic"},
                ["IVR017", "IVR002"],
                ["timeout"],
                "the step's worst case no longer fits the dead-air budget",
            )
        if over:
            return made({"static"}, ["IVR017", "IVR002"], [],
                        "over the dead-air budget only when every attempt is a slow error "
                        "(timeouts are not retried): the lint's worst case")  # fmt: skip
        if trap == "timeout-raised":
            return made({"static"}, ["IVR002"], [], "over the guide's 5 s for a caller")
        return made(set(), why="more retries, still inside the dead-air budget")
    if trap == "retry-on-4xx":
        return made(
            {"static", "dynamic"},
            ["IVR003"],
            ["400"],
            "a 400 is sent again: the backend sees the same bad request twice",
        )
    if trap == "post-retried-without-idempotency-key":
        return _unkeyed(ivr, step, trap, change, flows, before)
    if trap in ("breaker-dropped", "breaker-threshold-raised"):
        return made(
            set(),
            why="a breaker protects capacity under sustained load; each "
            "call alone is the same (the guide's hardened ticket step has none)",
        )
    if trap == "mapping-null-guard-dropped":
        if mutant.field.removeprefix("responseMapping.") in step.null_checked:
            # The guide's rule as the lint states it (docs/lint-rules.md IVR006): the
            # router right after the step tests this variable for null, which is where
            # the flow handles an empty array (the executor maps its [0] to null).
            return made(
                set(),
                why="the router right after the step null-checks the "
                "mapped variable: an empty array is handled there either way",
            )
        return made(
            {"static"}, ["IVR006"], [], "the executor maps [0] of an empty array to null either way"
        )
    if trap == "progress-prompt-removed":
        # The lint adds the step's worst case to the silent Wait; a fault of the battery
        # (a 202 answered at once, its callback never sent) holds the caller for the
        # Wait alone, so only a Wait longer than the budget is heard.
        heard = _wait_ms(flows, step) > ivr.dead_air_ms
        return made(
            {"static", "dynamic"} if heard else {"static"},
            ["IVR017"],
            ["202"] if heard else [],
            "a silent Wait" + (" longer than the dead-air budget" if heard else
                               ", over the budget only after a slow 202"),
        )
    return _routing(ivr, step, trap, change, flows, after)


def _unkeyed(ivr: Ivr, step: HttpStep, trap: str, change: str, flows: Mapping[str, Any],
             config: Mapping[str, Any]) -> Defect:  # fmt: skip
    policy = config.get("retryPolicy") or {}
    if int(policy.get("maxRetries", 0)) == 0:
        return _make(
            ivr,
            step,
            trap,
            change,
            flows,
            set(),
            why="never retried: no second submission to deduplicate",
        )
    labels = {"static"}
    dynamic = []
    if policy.get("retryOnTimeout", True):
        # The backend commits, the answer is lost, the retry submits again without a key.
        labels.add("dynamic")
        dynamic = ["timeout"]
    return _make(
        ivr,
        step,
        trap,
        change,
        flows,
        labels,
        ["IVR004"],
        dynamic,
        "a retried write without an Idempotency-Key can be applied twice",
    )


def _routing(ivr: Ivr, step: HttpStep, trap: str, change: str, flows: Mapping[str, Any],
             config: Mapping[str, Any]) -> Defect:  # fmt: skip
    """Router edits: which outcome classes now reach the success branch or a dead end."""
    old = _routes(ivr.flows, step)
    new = _routes(flows, step)
    success = {step.success_target}
    to_success = [c for c, t in new.items() if t in success and old.get(c) not in success]
    dead = [c for c, t in new.items() if t is None and old.get(c) is not None]
    lost = new.get("2xx") not in success and old.get("2xx") in success
    labels: set[str] = set()
    static: list[str] = []
    dynamic: list[str] = []
    if to_success:
        labels |= {"static", "dynamic"}
        static.append("IVR011")
        shared = _breaker_shared(ivr, step)
        heard = [c for c in to_success if c != "circuit_open" or not shared]
        dynamic += [_CLASSES[c][2] for c in heard]
        if not heard:
            labels.discard("dynamic")
    if dead:
        static.append("IVR013")
        labels.add("static")
        # A dead end in a sub-flow returns to its caller as `subflow_error` with the
        # return variables null (docs/flows.md), which the calling flow routes to its
        # own fallback: the caller hears what the correct IVR says. In the entry flow it
        # is the error tone.
        if "subflow" not in step.features:
            labels.add("dynamic")
            dynamic += [_CLASSES[c][2] for c in dead]
    if lost:
        labels.add("dynamic")
        dynamic.append("baseline")
    why = "; ".join(filter(None, [
        f"{', '.join(to_success)} now reach the success branch" if to_success else "",
        (f"{', '.join(dead)} now end in a dead end (the error tone)" if dead and
         "subflow" not in step.features else f"{', '.join(dead)} now end the sub-flow at a "
         "dead end, which its caller handles as a failed return" if dead else ""),
        "a healthy 2xx no longer reaches the success branch" if lost else "",
    ])) or "every outcome class goes where it went"  # fmt: skip
    return _make(ivr, step, trap, change, flows, labels, static, dynamic, why)


def _breaker_shared(ivr: Ivr, step: HttpStep) -> bool:
    """Whether another step on this step's breaker may run in the same call.

    Its successes reset the breaker's count and, once the breaker is open, it may be
    refused first, so the battery's storm does not open the breaker at this step
    (scenario/battery.py checks one call there). Steps of one call key prefixes of each
    other's keys (the one reached first keys fewer or the same).
    """
    mine = [f for f in step.features if f.startswith("breaker:")]
    return bool(mine) and any(
        other is not step and mine[0] in other.features
        and (step.dtmf[: len(other.dtmf)] == other.dtmf
             or other.dtmf[: len(step.dtmf)] == step.dtmf)
        for other in ivr.http_steps
    )


# -- traps written here ---------------------------------------------------------------------------

_Edit = Callable[[Ivr, HttpStep], "Defect | None"]


def _patch_without_key(ivr: Ivr, step: HttpStep) -> Defect | None:
    if step.method != "PATCH":
        return None
    flows, config = _edit(ivr, step.flow_id, step.step_id)
    headers = config.get("headers", {})
    key = next((k for k in headers if k.lower() == "idempotency-key"), None)
    if key is None:
        return None
    value = headers.pop(key)
    change = f"{step.flow_id}/{step.step_id} headers.{key}: {json.dumps(value)} -> (absent)"
    return _unkeyed(ivr, step, "patch-without-idempotency-key", change, flows, config)


def _read_as_done(ivr: Ivr, step: HttpStep) -> Defect | None:
    if step.accepted_condition is None:
        return None
    flows, router = _edit(ivr, step.flow_id, step.router_id)
    branch = router["conditions"][step.accepted_condition]
    before, branch["nextStepId"] = branch["nextStepId"], step.success_target
    change = (f"{step.flow_id}/{step.router_id} conditions[{step.accepted_condition}]"
              f".nextStepId: {before} -> {step.success_target}")  # fmt: skip
    return _make(
        ivr,
        step,
        "202-read-as-done",
        change,
        flows,
        {"static", "dynamic"},
        ["IVR011"],
        ["202"],
        "a 202 is read out as a finished booking",
    )


def _null_check_dropped(ivr: Ivr, step: HttpStep) -> Defect | None:
    flows, router = _edit(ivr, step.flow_id, step.router_id)
    branch = router["conditions"][step.success_condition]
    before = branch["expression"]
    kept = [p for p in before.split(" && ") if not p.endswith("!= null")]
    if len(kept) == len(before.split(" && ")):
        return None
    branch["expression"] = " && ".join(kept)
    change = (f"{step.flow_id}/{step.router_id} conditions[{step.success_condition}]"
              f".expression: {before} -> {branch['expression']}")  # fmt: skip
    classes = ["malformed"] + [f"drift-{_field(p)}" for p in _mapping(ivr, step).values()]
    if "guarded-index" in step.features or step.kind == "count":
        classes.append("empty")
    return _make(
        ivr,
        step,
        "null-check-dropped",
        change,
        flows,
        {"dynamic"},
        [],
        classes,
        "a 2xx without the mapped value reaches the success branch: the caller "
        "hears a null, or the next request carries one",
    )


def _collapsed(ivr: Ivr, step: HttpStep) -> Defect | None:
    flows, router = _edit(ivr, step.flow_id, step.router_id)
    conditions = router["conditions"]
    specific = [
        c for c in conditions if any(k in c["expression"] for k in ("404", "auth_error", "401"))
    ]
    if not specific:
        return None
    for branch in specific:
        conditions.remove(branch)
    change = (f"{step.flow_id}/{step.router_id} conditions: the 4xx branches "
              f"({'; '.join(c['expression'] for c in specific)}) removed")  # fmt: skip
    return _make(
        ivr,
        step,
        "4xx-collapsed-with-5xx",
        change,
        flows,
        set(),
        [],
        [],
        "4xx and 5xx reach the same fallback: an operational signal is lost, but "
        "no per-call oracle tells 'busy' from 'not found'",
    )


def _token_inline(ivr: Ivr, step: HttpStep) -> Defect | None:
    token = step.token
    if token is None:
        return None
    flows = {name: copy.deepcopy(dict(doc)) for name, doc in ivr.flows.items()}
    document = _document(flows, step.flow_id)
    steps = {s["id"]: s for s in document["steps"]}
    load = next(
        s for s in steps.values() if s.get("nextStepId") == step.step_id and s["type"] == "DataAPI"
    )
    for other in steps.values():
        if other.get("nextStepId") == load["id"]:
            other["nextStepId"] = step.step_id
    document["steps"] = [s for s in document["steps"] if s["id"] != load["id"]]
    config = steps[step.step_id]["configuration"]
    config["headers"].pop("Authorization")
    config["authentication"] = {
        "type": "oauth2", "clientId": f"{{{{{token['client_id']}}}}}",
        "clientSecret": f"{{{{{token['client_secret']}}}}}", "tokenEndpoint": token["endpoint"],
        "scopes": list(token["scopes"]),
    }  # fmt: skip
    document["variables"].setdefault(token["client_id"], token["client_id_value"])
    document["variables"].setdefault(token["client_secret"], None)
    change = (f"{step.flow_id}/{step.step_id} authentication: the cached token "
              f"({load['id']}) -> oauth2 client credentials fetched inline")  # fmt: skip
    over = worst_case_ms(config, inline_token=True) > ivr.dead_air_ms
    static = ["IVR005", "IVR017"] if over else ["IVR005"]
    return _make(
        ivr,
        step,
        "token-fetched-inline",
        change,
        flows,
        {"static"},
        static,
        [],
        "the token endpoint is on the caller path (guide 2)",
    )


_OWN_EDITS: dict[str, _Edit] = {
    "patch-without-idempotency-key": _patch_without_key,
    "202-read-as-done": _read_as_done,
    "null-check-dropped": _null_check_dropped,
    "4xx-collapsed-with-5xx": _collapsed,
    "token-fetched-inline": _token_inline,
}


# -- helpers --------------------------------------------------------------------------------------


def _document(flows: Mapping[str, Any], flow_id: str) -> dict[str, Any]:
    document: dict[str, Any] = next(d for d in flows.values() if d["id"] == flow_id)
    return document


def _edit(ivr: Ivr, flow_id: str, step_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A deep copy of the flows, and the configuration of one step in it to change."""
    flows = {name: copy.deepcopy(dict(doc)) for name, doc in ivr.flows.items()}
    document = _document(flows, flow_id)
    step = next(s for s in document["steps"] if s["id"] == step_id)
    config: dict[str, Any] = step["configuration"]
    return flows, config


def _config(flows: Mapping[str, Any], step: HttpStep) -> Mapping[str, Any]:
    document = _document(flows, step.flow_id)
    found = next(s for s in document["steps"] if s["id"] == step.step_id)
    config: Mapping[str, Any] = found["configuration"]
    return config


def _mapping(ivr: Ivr, step: HttpStep) -> Mapping[str, str]:
    mapping: Mapping[str, str] = _config(ivr.flows, step).get("responseMapping", {})
    return mapping


def _field(path: str) -> str:
    # `$.items && ... ? $.items[0].starts_at : null` -> starts_at; `$.items.length` -> items
    text = path.split("?")[1].split(":")[0] if "?" in path else path
    names = [p for p in text.replace("[0]", "").strip().split(".") if p and p != "$"]
    names = [n for n in names if n != "length"]
    return names[-1] if names else ""


def _wait_ms(flows: Mapping[str, Any], step: HttpStep) -> int:
    """The longest hold of the step's Wait (0 without one)."""
    if step.wait_id is None:
        return 0
    document = _document(flows, step.flow_id)
    wait = next(s for s in document["steps"] if s["id"] == step.wait_id)
    return int(wait["configuration"]["maxWaitMs"])


def _silence(ivr: Ivr, flows: Mapping[str, Any], step: HttpStep) -> int:
    """The longest silence around the step: its worst case, plus a silent Wait after it."""
    config = _config(flows, step)
    total = worst_case_ms(config)
    if step.wait_id is not None:
        document = _document(flows, step.flow_id)
        wait = next(s for s in document["steps"] if s["id"] == step.wait_id)
        if "progressPromptEveryMs" not in wait["configuration"]:
            total += int(wait["configuration"]["maxWaitMs"])
    return total


def _routes(flows: Mapping[str, Any], step: HttpStep) -> dict[str, str | None]:
    """Where the router sends each outcome class (2xx with every mapped value present)."""
    document = _document(flows, step.flow_id)
    router = next(s for s in document["steps"] if s["id"] == step.router_id)
    config = next(s for s in document["steps"] if s["id"] == step.step_id)["configuration"]
    mapped: dict[str, Any] = {name: "value" for name in config.get("responseMapping", {})}
    empty: dict[str, Any] = dict.fromkeys(mapped)
    classes: dict[str, tuple[int, str, dict[str, Any]]] = {"2xx": (200, "success", mapped)}
    for name, (code, outcome, _) in _CLASSES.items():
        classes[name] = (code, outcome, empty)
    if "circuitBreaker" not in config:
        classes.pop("circuit_open")
    out: dict[str, str | None] = {}
    if config.get("onTimeoutStepId"):
        out["timeout"] = str(config["onTimeoutStepId"])  # the executor skips the router
        classes.pop("timeout")
    for name, (code, outcome, values) in classes.items():
        variables = {**document.get("variables", {}), **values,
                     "http_status_code": code, "http_outcome": outcome}  # fmt: skip
        out[name] = _route(router["configuration"], variables)
    return out


def _route(router: Mapping[str, Any], variables: Mapping[str, Any]) -> str | None:
    scope = Scope(variables=variables, now_ms=lambda: 0)
    for branch in router.get("conditions", []):
        try:
            value = evaluate_condition(str(branch["expression"]), scope)
        except ExpressionError:
            return None
        if truthy(value):
            return str(branch["nextStepId"])
    default = router.get("defaultStepId")
    return str(default) if default else None
