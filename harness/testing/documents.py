"""Building one flow document step by step, and laying its steps out in reading order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FlowDoc", "successors"]


@dataclass(slots=True, kw_only=True)
class FlowDoc:
    """A flow under construction: steps in any order, variables with their defaults."""

    id: str
    name: str
    flow_type: str
    comment: str = ""
    schedule_ms: int | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    optional: set[str] = field(default_factory=set)  # dropped when nothing leads to them

    def add(
        self, step_id: str, kind: str, configuration: Mapping[str, Any], nxt: str | None = None
    ) -> str:
        """Add a step (ids are unique within a flow); returns its id."""
        if step_id in self.steps:
            raise ValueError(f"{self.id}: step id {step_id!r} used twice")
        step: dict[str, Any] = {"id": step_id, "type": kind, "configuration": dict(configuration)}
        if nxt is not None:
            step["nextStepId"] = nxt
        self.steps[step_id] = step
        return step_id

    def has(self, step_id: str) -> bool:
        return step_id in self.steps

    def declare(self, *names: str, value: Any = None) -> None:
        for name in names:
            self.variables.setdefault(name, value)

    def document(self, entry: str) -> dict[str, Any]:
        """The flow JSON, steps in the order a reader follows them from `entry`."""
        doc: dict[str, Any] = {}
        if self.comment:
            doc["$comment"] = self.comment
        doc.update(id=self.id, name=self.name, flowType=self.flow_type, version=1)
        if self.schedule_ms is not None:
            doc["schedule"] = {"everyMs": self.schedule_ms}
        doc["variables"] = dict(sorted(self.variables.items()))
        order = list(_reading_order(self.steps, entry))
        unreachable = [s for s in self.steps if s not in order and s not in self.optional]
        if unreachable:
            raise ValueError(f"{self.id}: steps not reachable from {entry}: {unreachable}")
        doc["steps"] = [self.steps[s] for s in order]
        return doc


def successors(step: Mapping[str, Any]) -> list[str]:
    """Every step id a step can hand the call to, in the order a reader meets them."""
    config = step.get("configuration", {})
    out = [str(c["nextStepId"]) for c in config.get("conditions", [])]
    for key in ("defaultStepId", "onTimeoutStepId", "onErrorStepId"):
        if key in config:
            out.append(str(config[key]))
    if "nextStepId" in step:
        out.insert(0, str(step["nextStepId"]))
    return out


def _reading_order(steps: Mapping[str, Mapping[str, Any]], entry: str) -> Iterator[str]:
    # Depth first along nextStepId, so a happy path reads top to bottom; branches follow.
    seen: set[str] = set()
    todo = [entry]
    while todo:
        current = todo.pop()
        if current in seen or current not in steps:
            continue
        seen.add(current)
        yield current
        todo.extend(reversed(successors(steps[current])))
