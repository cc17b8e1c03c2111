"""Mutants of a flow set: small, realistic breakages from the guide's traps.

Each operator finds the places it applies to (HTTP steps, their error routers, Wait
steps) and yields one :class:`Mutant` per place: the flow set's documents with one
edit, and a record of what changed (trap, flow, step, field, before, after). Nothing
here runs anything; `harness.scenario.mutation` decides which mutants a suite kills.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from harness.flow.lint.router import evaluate_router, router_of
from harness.flow.model import Flow, FlowSet, Step

__all__ = ["TRAPS", "Mutant", "changed_steps", "mutants", "sample"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Mutant:
    """One broken version of a flow set."""

    id: str
    trap: str
    flow_id: str
    step_id: str
    field: str
    before: Any
    after: Any
    documents: Mapping[str, Any]  # file name -> flow document, every flow of the set

    def change(self) -> str:
        """The edit on one line: where, what, before -> after."""
        return (
            f"{self.flow_id}/{self.step_id} {self.field}: "
            f"{_short(self.before)} -> {_short(self.after)}"
        )


def _short(value: Any) -> str:
    text = "(absent)" if value is _ABSENT else json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


_ABSENT: Any = object()

# An edit: given a copy of the step's document, change it and return (field, before, after);
# None when it does not apply here.
Edit = Callable[[dict[str, Any], Flow, Step], "tuple[str, Any, Any] | None"]


def _cfg(step: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = step.setdefault("configuration", {})
    return config


def _timeout_default(step: dict[str, Any], flow: Flow, http: Step) -> tuple[str, Any, Any] | None:
    cfg = _cfg(step)
    if "timeout" not in cfg:
        return None
    return "timeout", cfg.pop("timeout"), _ABSENT


def _timeout_12s(step: dict[str, Any], flow: Flow, http: Step) -> tuple[str, Any, Any] | None:
    cfg = _cfg(step)
    before = cfg.get("timeout", _ABSENT)
    if before == 12000:
        return None
    cfg["timeout"] = 12000
    return "timeout", before, 12000


def _more_retries(step: dict[str, Any], flow: Flow, http: Step) -> tuple[str, Any, Any] | None:
    policy = _cfg(step).setdefault("retryPolicy", {})
    before = policy.get("maxRetries", 0)
    policy["maxRetries"] = before + 3
    return "retryPolicy.maxRetries", before, before + 3


def _retry_4xx(step: dict[str, Any], flow: Flow, http: Step) -> tuple[str, Any, Any] | None:
    policy = _cfg(step).setdefault("retryPolicy", {})
    before = list(policy.get("retryOnStatusCodes", []))
    after = sorted({*before, 400, 403, 404})
    policy["retryOnStatusCodes"] = after
    policy["maxRetries"] = max(int(policy.get("maxRetries", 0)), 1)
    return "retryPolicy.retryOnStatusCodes", before, after


def _post_without_key(step: dict[str, Any], flow: Flow, http: Step) -> tuple[str, Any, Any] | None:
    cfg = _cfg(step)
    headers = cfg.get("headers", {})
    key = next((k for k in headers if k.lower() == "idempotency-key"), None)
    if str(cfg.get("method", "")).upper() != "POST" or key is None:
        return None
    before = headers.pop(key)
    return f"headers.{key}", before, _ABSENT


def _drop_breaker(step: dict[str, Any], flow: Flow, http: Step) -> tuple[str, Any, Any] | None:
    cfg = _cfg(step)
    if "circuitBreaker" not in cfg:
        return None
    return "circuitBreaker", cfg.pop("circuitBreaker"), _ABSENT


def _raise_threshold(step: dict[str, Any], flow: Flow, http: Step) -> tuple[str, Any, Any] | None:
    breaker = _cfg(step).get("circuitBreaker")
    if not isinstance(breaker, dict):
        return None
    before = breaker.get("failureThreshold", 3)
    breaker["failureThreshold"] = int(before) * 10
    return "circuitBreaker.failureThreshold", before, breaker["failureThreshold"]


def _drop_progress(step: dict[str, Any], flow: Flow, wait: Step) -> tuple[str, Any, Any] | None:
    cfg = _cfg(step)
    if "progressPromptEveryMs" not in cfg:
        return None
    return "progressPromptEveryMs", cfg.pop("progressPromptEveryMs"), _ABSENT


# Operators on the HTTP step itself.
_STEP_EDITS: dict[str, Edit] = {
    "timeout-removed": _timeout_default,
    "timeout-raised": _timeout_12s,
    "retries-widened": _more_retries,
    "retry-on-4xx": _retry_4xx,
    "post-retried-without-idempotency-key": _post_without_key,
    "breaker-dropped": _drop_breaker,
    "breaker-threshold-raised": _raise_threshold,
}

# The outcome classes an error router must keep away from the success branch, and the
# condition that picks each out (tested first, so it wins).
_CLASS_CONDITIONS = {
    "timeout": "http_outcome == 'timeout'",
    "401-403": "http_status_code == 401 || http_status_code == 403",
    "404": "http_status_code == 404",
    "5xx": "http_status_code >= 500",
    "202": "http_status_code == 202",
    "circuit_open": "http_outcome == 'circuit_open'",
}

TRAPS = (
    *_STEP_EDITS,
    "router-branches-swapped",
    *(f"{name}-to-success" for name in _CLASS_CONDITIONS),
    "router-default-removed",
    "mapping-null-guard-dropped",
    "progress-prompt-removed",
)


def mutants(flows: FlowSet, documents: Mapping[str, Any]) -> Iterator[Mutant]:
    """Every mutant of the flow set, in a stable order (flow, step, trap)."""
    files = {doc["id"]: name for name, doc in documents.items() if isinstance(doc, dict)}
    count = 0
    for flow in sorted(flows, key=lambda f: f.id):
        for step in flow.steps:
            for trap, field, before, after, edited in _edits(flow, step):
                count += 1
                changed = {**documents, files[flow.id]: edited}
                yield Mutant(
                    id=f"m{count:03d}-{trap}",
                    trap=trap,
                    flow_id=flow.id,
                    step_id=step.id,
                    field=field,
                    before=before,
                    after=after,
                    documents=changed,
                )


def sample(all_mutants: list[Mutant], size: int | None, seed: int) -> list[Mutant]:
    """At most `size` mutants, drawn with `seed` (the same seed, the same mutants)."""
    if size is None or size >= len(all_mutants):
        return all_mutants
    chosen = set(random.Random(seed).sample(range(len(all_mutants)), size))
    return [m for i, m in enumerate(all_mutants) if i in chosen]


def _edits(flow: Flow, step: Step) -> Iterator[tuple[str, str, Any, Any, dict[str, Any]]]:
    index = flow.steps.index(step)
    if step.type == "Wait":
        yield from _apply(flow, index, "progress-prompt-removed", _drop_progress, step)
    if step.type != "HTTPRequest":
        return
    for trap, edit in _STEP_EDITS.items():
        yield from _apply(flow, index, trap, edit, step)
    yield from _mapping_guard(flow, index)
    router = router_of(flow, step)
    if router is not None:
        yield from _router_edits(flow, step, router)


def _apply(
    flow: Flow, index: int, trap: str, edit: Edit, step: Step
) -> Iterator[tuple[str, str, Any, Any, dict[str, Any]]]:
    document = _document(flow)
    result = edit(document["steps"][index], flow, step)
    if result is not None:
        yield (trap, *result, document)


def _document(flow: Flow) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(json.loads(flow.source))
    return document


def _mapping_guard(flow: Flow, index: int) -> Iterator[tuple[str, str, Any, Any, dict[str, Any]]]:
    """`$.data && $.data.length > 0 ? $.data[0].x : null` becomes `$.data[0].x`."""
    document = _document(flow)
    mapping = _cfg(document["steps"][index]).get("responseMapping", {})
    for name, expression in mapping.items():
        text = str(expression)
        if "?" in text and ":" in text:
            guarded = text.split("?", 1)[1].rsplit(":", 1)[0].strip()
            mapping[name] = guarded
            yield "mapping-null-guard-dropped", f"responseMapping.{name}", text, guarded, document
            return


def _router_edits(
    flow: Flow, http: Step, router: Step
) -> Iterator[tuple[str, str, Any, Any, dict[str, Any]]]:
    verdict = evaluate_router(flow, http, router)
    at = flow.steps.index(router)
    conditions = list(router.config.get("conditions", []))
    # The success branch as the lint defines it (where a 2xx with data goes), among the
    # router's own targets: a bare 2xx with no data may rightly go to a fallback.
    targets = [str(c.get("nextStepId")) for c in conditions]
    targets.append(str(router.config.get("defaultStepId", "")))
    success = next((t for t in targets if t in verdict.success_steps), None)
    pair = next(
        (
            (i, j)
            for i in range(len(conditions))
            for j in range(i + 1, len(conditions))
            if conditions[i].get("nextStepId") != conditions[j].get("nextStepId")
        ),
        None,
    )
    if pair is not None:
        i, j = pair
        document = _document(flow)
        branches = _cfg(document["steps"][at])["conditions"]
        first, second = branches[i]["nextStepId"], branches[j]["nextStepId"]
        branches[i]["nextStepId"], branches[j]["nextStepId"] = second, first
        field = f"conditions[{i}],[{j}].nextStepId"
        yield "router-branches-swapped", field, [first, second], [second, first], document
    for name, condition in _CLASS_CONDITIONS.items():
        if name == "circuit_open" and "circuitBreaker" not in http.config:
            continue
        if success is None:
            break
        document = _document(flow)
        branches = _cfg(document["steps"][at]).setdefault("conditions", [])
        branches.insert(0, {"expression": condition, "nextStepId": success})
        yield (
            f"{name}-to-success",
            "conditions[0]",
            _ABSENT,
            {
                "expression": condition,
                "nextStepId": success,
            },
            document,
        )
    if "defaultStepId" in router.config:
        document = _document(flow)
        before = _cfg(document["steps"][at]).pop("defaultStepId")
        yield "router-default-removed", "defaultStepId", before, _ABSENT, document


def changed_steps(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> frozenset[tuple[str, str]] | None:
    """The (flow id, step id) pairs whose step documents differ between two versions of a
    flow set's documents (file name -> flow document), or None when anything else differs
    (a flow added, removed or renamed, a step added, removed or moved, a flow-level field
    such as its variables or schedule): then no step alone says what the change can reach.
    """
    if set(before) != set(after):
        return None
    changed: set[tuple[str, str]] = set()
    for name, old in before.items():
        new = after[name]
        if old == new:
            continue
        if not isinstance(old, dict) or not isinstance(new, dict):
            return None
        rest_old = {k: v for k, v in old.items() if k != "steps"}
        rest_new = {k: v for k, v in new.items() if k != "steps"}
        old_steps, new_steps = old.get("steps"), new.get("steps")
        if rest_old != rest_new or not isinstance(old_steps, list):
            return None
        if not isinstance(new_steps, list) or len(old_steps) != len(new_steps):
            return None
        for a, b in zip(old_steps, new_steps, strict=True):
            if a == b:
                continue
            if not isinstance(a, dict) or not isinstance(b, dict) or a.get("id") != b.get("id"):
                return None
            changed.add((str(old.get("id")), str(a.get("id"))))
    return frozenset(changed)
