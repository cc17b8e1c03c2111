"""What every rule reads: the flow set, the platform profile, the budget, and graph helpers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.flow.model import Flow, FlowSet, Step
from harness.flow.profile import PlatformProfile

__all__ = ["Edge", "Issue", "LintContext", "edges", "strings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Issue:
    """A rule's raw result, before severity, suppression and positions are applied."""

    rule_id: str
    flow: Flow
    step: Step | None
    pointer: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    """A possible transfer of control: where it is written and where it goes."""

    pointer: str
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LintContext:
    flows: FlowSet
    profile: PlatformProfile
    dead_air_budget_ms: int
    callers: Mapping[str, tuple[tuple[Flow, Step], ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, flows: FlowSet, profile: PlatformProfile, budget_ms: int) -> LintContext:
        frozen = {k: tuple(v) for k, v in flows.callers().items()}
        return cls(flows=flows, profile=profile, dead_air_budget_ms=budget_ms, callers=frozen)

    def issue(
        self, rule_id: str, flow: Flow, step: Step | None, pointer: str, message: str
    ) -> Issue:
        return Issue(rule_id=rule_id, flow=flow, step=step, pointer=pointer, message=message)

    def caller_facing(self, flow: Flow) -> bool:
        """Whether a caller waits on this flow: an IVR flow or one reached from one."""
        seen: set[str] = set()
        stack = [flow.id]
        while stack:
            current = stack.pop()
            target = self.flows.get(current)
            if target is not None and target.flow_type == "IVR":
                return True
            seen.add(current)
            stack.extend(p.id for p, _ in self.callers.get(current, ()) if p.id not in seen)
        return False


def edges(step: Step) -> list[Edge]:
    """Every outgoing reference of a step, with the pointer where it is written."""
    cfg, base = step.config, step.pointer
    found: list[Edge] = []
    if step.next_step_id is not None:
        found.append(Edge(pointer=f"{base}/nextStepId", target=step.next_step_id))
    for index, branch in enumerate(cfg.get("conditions", []) if step.type == "Condition" else []):
        if isinstance(branch, Mapping) and "nextStepId" in branch:
            pointer = f"{base}/configuration/conditions/{index}/nextStepId"
            found.append(Edge(pointer=pointer, target=str(branch["nextStepId"])))
    for key in ("defaultStepId", "onTimeoutStepId", "onErrorStepId"):
        if key in cfg:
            found.append(Edge(pointer=f"{base}/configuration/{key}", target=str(cfg[key])))
    return found


def strings(value: Any, pointer: str) -> Iterator[tuple[str, str]]:
    """Every string value under ``value`` with its JSON pointer (keys are not values)."""
    if isinstance(value, str):
        yield pointer, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings(item, f"{pointer}/{_escape(str(key))}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{pointer}/{index}")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")
