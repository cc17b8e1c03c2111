"""Step dependencies between flows, checked before a release writes anything.

The guide deploys through the Flow API so that "CI/CD pipelines validate step
dependencies before deployment". A release's flows are checked against what will be
live once it is written (the tenant's flows with the release's over them), on every
SubFlow call that has a release flow at either end:

- the called ``flowId`` is deployed or in the release;
- each variable travels from a side that has it: a ``passThroughVariables`` name is
  set by the calling flow (a default, a step's result, a caller variable, or passed in
  by its own callers), a ``returnVariables`` name by the called flow;
- the release can be written in dependency order (SubFlows first): no SubFlow cycle.

The receiving side is not required to read what it receives (the guide's own flows pass
``customer_id`` to a sub-flow that never reads it); the lint's IVR015 checks reads.
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping
from typing import Any

from harness.errors import ConfigError
from harness.flow.documents import canonical_text, subflow_refs
from harness.flow.lint.dataflow import ENTRY_CALLER_VARIABLES, defined_by
from harness.flow.loader import parse_flow
from harness.flow.model import Flow

__all__ = ["check_dependencies", "release_order"]

Documents = Mapping[str, Mapping[str, Any]]


def check_dependencies(release: Documents, deployed: Documents) -> list[str]:
    """One line per broken dependency of the release on the tenant after it (none: fine)."""
    live = {**deployed, **release}
    flows = _parsed(live)
    passed_in = _passed_in(live)
    problems: list[str] = []
    for parent_id, document in sorted(live.items()):
        for step_id, child_id in subflow_refs(document):
            if parent_id not in release and child_id not in release:
                continue  # the tenant's own business, not this release's
            where = f"{parent_id}/{step_id}"
            if child_id not in live:
                problems.append(
                    f"{where} calls flow '{child_id}', which is neither deployed nor in this "
                    "release"
                )
                continue
            parent, child = flows.get(parent_id), flows.get(child_id)
            if parent is None or child is None:
                continue  # a document the schema refuses: the gate names it
            step = parent.step(step_id)
            config = step.config if step is not None else {}
            has = _sets(parent) | passed_in.get(parent_id, frozenset())
            for name in config.get("passThroughVariables", []):
                if name not in has:
                    problems.append(
                        f"{where} passes '{name}' to {child_id}, but {parent_id} never sets it"
                    )
            for name in config.get("returnVariables", []):
                if name not in _sets(child):
                    problems.append(
                        f"{where} expects '{name}' back from {child_id}, but {child_id} never "
                        "sets it"
                    )
    return problems


def release_order(release: Documents) -> list[str]:
    """The release's flow ids, every SubFlow before the flows calling it (ConfigError on a
    cycle, naming it)."""
    graph = {
        flow_id: {child for _, child in subflow_refs(document) if child in release}
        for flow_id, document in release.items()
    }
    sorter = graphlib.TopologicalSorter(graph)
    try:
        # Ready flows in id order, so a release's order is the same on every run.
        sorter.prepare()
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order += ready
            sorter.done(*ready)
    except graphlib.CycleError as exc:
        cycle = " -> ".join(str(n) for n in reversed(exc.args[1]))
        raise ConfigError(
            f"SubFlow cycle in the release: {cycle}", hint="no order writes SubFlows first"
        ) from None
    return order


def _parsed(documents: Documents) -> dict[str, Flow]:
    flows = {}
    for flow_id, document in documents.items():
        try:
            flows[flow_id] = parse_flow(document, source=canonical_text(document))
        except ConfigError:
            continue
    return flows


def _sets(flow: Flow) -> frozenset[str]:
    """Every variable a flow can hold: its defaults and whatever a step of it sets."""
    names = set(flow.variables)
    for step in flow.steps:
        names |= defined_by(step)
    return frozenset(names)


def _passed_in(documents: Documents) -> dict[str, frozenset[str]]:
    """Per flow: the caller variables, and what any SubFlow step calling it passes in."""
    found: dict[str, set[str]] = {flow_id: set(ENTRY_CALLER_VARIABLES) for flow_id in documents}
    for document in documents.values():
        steps = {str(s.get("id")): s for s in document.get("steps") or () if isinstance(s, dict)}
        for step_id, child_id in subflow_refs(document):
            config = steps.get(step_id, {}).get("configuration") or {}
            found.setdefault(child_id, set()).update(config.get("passThroughVariables", []))
    return {flow_id: frozenset(names) for flow_id, names in found.items()}
