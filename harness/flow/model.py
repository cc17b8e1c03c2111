"""Flow documents as immutable values.

A flow is the JSON body of ``PUT /api/v2/flow/flows/{flowId}``; a flow set is a
folder of them in which ``SubFlow`` steps resolve ``flowId``. The raw JSON is
kept beside the parsed values so that lint findings can point back into it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TERMINAL_TYPES", "Flow", "FlowSet", "Step"]

TERMINAL_TYPES = frozenset({"Transfer", "Voicemail", "Hangup", "Return"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One step of a flow; `pointer` is its JSON pointer inside the flow file."""

    id: str
    type: str
    config: Mapping[str, Any]
    next_step_id: str | None = None
    pointer: str = ""
    lint: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_TYPES


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    """A parsed, schema-valid flow document."""

    id: str
    name: str
    flow_type: str
    version: int
    steps: tuple[Step, ...]
    entry_step_id: str
    variables: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    source: str = ""
    lint: Mapping[str, str] = field(default_factory=dict)
    schedule_every_ms: int | None = None  # Scheduled flows: the job's period

    def step(self, step_id: str | None) -> Step | None:
        if step_id is None:
            return None
        for step in self.steps:
            if step.id == step_id:
                return step
        return None

    @property
    def step_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.steps)

    def http_steps(self) -> list[Step]:
        return [s for s in self.steps if s.type == "HTTPRequest"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowSet:
    """The flows of one folder, by id."""

    flows: Mapping[str, Flow]
    root: Path | None = None

    def get(self, flow_id: str) -> Flow | None:
        return self.flows.get(flow_id)

    def scheduled(self) -> list[Flow]:
        """The flow set's scheduled jobs (e.g. a token refresher), in id order."""
        jobs = (f for f in self.flows.values() if f.flow_type == "Scheduled")
        return sorted(jobs, key=lambda f: f.id)

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows.values())

    def __len__(self) -> int:
        return len(self.flows)

    def subflow_target(self, parent: Flow, step: Step) -> Flow | None:
        """The flow a SubFlow step calls, resolving a `{{var}}` id from the parent's defaults."""
        ref = str(step.config.get("flowId", ""))
        return self.flows.get(resolve_flow_ref(ref, parent.variables))

    def callers(self) -> dict[str, list[tuple[Flow, Step]]]:
        """For each flow id, the (flow, SubFlow step) pairs that call it."""
        found: dict[str, list[tuple[Flow, Step]]] = {}
        for flow in self.flows.values():
            for step in flow.steps:
                child = self.subflow_target(flow, step) if step.type == "SubFlow" else None
                if child is not None:
                    found.setdefault(child.id, []).append((flow, step))
        return found

    def entry_flows(self) -> list[Flow]:
        """Where calls start: the IVR flows, else every flow no SubFlow step calls."""
        ivr = [f for f in self.flows.values() if f.flow_type == "IVR"]
        if ivr:
            return ivr
        called = self.callers()
        return [f for f in self.flows.values() if f.id not in called]


def resolve_flow_ref(ref: str, variables: Mapping[str, Any]) -> str:
    """`{{integrationFlowId}}` resolves through the flow's variable defaults, as at deploy time."""
    text = ref.strip()
    if text.startswith("{{") and text.endswith("}}"):
        name = text[2:-2].strip()
        value = variables.get(name)
        return str(value) if value is not None else text
    return text
