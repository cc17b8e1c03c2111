"""IVR015 used-before-set: a must-be-set data-flow analysis over each flow's step graph.

A variable is set on entry when it is a flow variable default, a caller variable
(``ani``, ``dnis``, ``flow_execution_id`` in an entry flow; the runner hands a sub-flow
only ``ani`` and ``flow_execution_id``) or passed by every SubFlow step that calls the
flow. Steps set: CollectDigits ``variable``; DataAPI/Wait ``resultVariable`` (Wait also
``wait_timed_out``); HTTPRequest its mapped names and the ``http_*`` outcome variables;
SubFlow its ``returnVariables`` and ``subflow_error``/``subflow_error_reason``.
"""

from __future__ import annotations

from collections.abc import Iterator

from harness.flow.expr import ExpressionError, placeholders, variables_used
from harness.flow.lint.context import Issue, LintContext, edges
from harness.flow.lint.sites import sites
from harness.flow.model import Flow, Step
from harness.flow.outcomes import OUTCOME_VARIABLES

__all__ = ["check_used_before_set", "defined_by", "entry_set"]

ENTRY_CALLER_VARIABLES = frozenset({"ani", "dnis", "flow_execution_id"})
CHILD_CALLER_VARIABLES = frozenset({"ani", "flow_execution_id"})


def defined_by(step: Step) -> frozenset[str]:
    """The variables a step sets on every way out of it."""
    cfg = step.config
    names: set[str] = set()
    if step.type == "CollectDigits" and cfg.get("variable"):
        names.add(str(cfg["variable"]))
    if step.type in ("DataAPI", "Wait") and cfg.get("resultVariable"):
        names.add(str(cfg["resultVariable"]))
    if step.type == "Wait":
        names.add("wait_timed_out")
    if step.type == "HTTPRequest":
        names |= set(cfg.get("responseMapping", {})) | OUTCOME_VARIABLES
    if step.type == "SubFlow":
        names |= set(cfg.get("returnVariables", [])) | {"subflow_error", "subflow_error_reason"}
    return frozenset(names)


def entry_set(ctx: LintContext, flow: Flow) -> frozenset[str]:
    """What is surely set when ``flow`` starts."""
    base = frozenset(flow.variables)
    calls = ctx.callers.get(flow.id, ())
    if not calls:
        return base | ENTRY_CALLER_VARIABLES
    passed = [frozenset(step.config.get("passThroughVariables", [])) for _, step in calls]
    return base | CHILD_CALLER_VARIABLES | frozenset.intersection(*passed)


def _must_sets(flow: Flow, start: frozenset[str]) -> dict[str, frozenset[str]]:
    """Variables surely set on entry to each reachable step (intersection over predecessors)."""
    into: dict[str, frozenset[str]] = {flow.entry_step_id: start}
    work = [flow.entry_step_id]
    while work:
        step = flow.step(work.pop())
        if step is None:
            continue
        out = into[step.id] | defined_by(step)
        for edge in edges(step):
            if flow.step(edge.target) is None:
                continue
            old = into.get(edge.target)
            new = out if old is None else old & out
            if new != old:
                into[edge.target] = new
                work.append(edge.target)
    return into


def _uses(flow: Flow, step: Step) -> Iterator[tuple[str, str]]:
    """(pointer, variable) for each read in a step."""
    for site in sites(flow):
        if site.step is not step:
            continue
        if site.kind == "mapping":
            continue  # evaluated over the response, after the step's own variables exist
        try:
            names = variables_used(site.text) if site.kind == "expression" else _template(site.text)
        except ExpressionError:
            continue
        for name in sorted(names):
            yield site.pointer, name
    if step.type == "SubFlow":
        for index, name in enumerate(step.config.get("passThroughVariables", [])):
            yield f"{step.pointer}/configuration/passThroughVariables/{index}", str(name)


def _template(text: str) -> set[str]:
    names: set[str] = set()
    for placeholder in placeholders(text):
        names |= variables_used(placeholder.expr)
    return names


def check_used_before_set(ctx: LintContext) -> Iterator[Issue]:
    """IVR015: a step reads a variable that some path from the entry never set."""
    for flow in ctx.flows:
        must = _must_sets(flow, entry_set(ctx, flow))
        for step in flow.steps:
            if step.id not in must:
                continue  # unreachable: nothing runs it
            for pointer, name in _uses(flow, step):
                if name not in must[step.id]:
                    yield ctx.issue(
                        "IVR015",
                        flow,
                        step,
                        pointer,
                        f"'{name}' may be read before it is set (not set on every path from "
                        f"the entry of '{flow.id}')",
                    )
