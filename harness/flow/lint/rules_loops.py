"""IVR019 endless-loop: a cycle of steps a call can never leave.

The runner stops a call after 500 steps with an `error` outcome, so a flow whose
step graph loops with no way out sends every caller who reaches it to the error tone
after minutes of repeated prompts or dead air -- and nothing else catches it: each step
has a valid `nextStepId`, so dead-end and dangling-reference stay quiet.

A cycle (a strongly connected set of steps) is flagged when either

* no edge leaves it: whatever the caller does, the call goes round for ever (a Play
  or a CollectDigits in it does not help: they are the loop, not a way out); or
* its ways out are all Condition branches (or a default) and no step in it can change
  what those conditions see: no caller input (CollectDigits), no counter or other
  Data Storage/variable write (DataAPI), no backend answer (HTTPRequest), no Wait, no
  SubFlow, and no condition reading `currentTimestamp()`. If the first pass does not
  leave, no pass will.

A menu that re-prompts until the caller keys a valid choice, a retry loop through a
Condition on a counter, and a poll of a backend are left alone: each pass can differ.
"""

from __future__ import annotations

from collections.abc import Iterator

from harness.flow.lint.context import Issue, LintContext, edges
from harness.flow.model import Flow, Step

__all__ = ["check_endless_loops"]

# Steps whose pass can change what a Condition sees on the next pass.
_PROGRESS = frozenset({"CollectDigits", "DataAPI", "HTTPRequest", "Wait", "SubFlow"})


def check_endless_loops(ctx: LintContext) -> Iterator[Issue]:
    """IVR019: a cycle with no way out, or whose ways out can never be taken."""
    for flow in ctx.flows:
        for cycle in _cycles(flow):
            message = _verdict(flow, cycle)
            if message:
                first = cycle[0]
                edge = next(e for e in edges(first) if e.target in {s.id for s in cycle})
                yield ctx.issue("IVR019", flow, first, edge.pointer, message)


def _successors(step: Step, ids: set[str]) -> set[str]:
    return {e.target for e in edges(step) if e.target in ids}


def _cycles(flow: Flow) -> list[list[Step]]:
    """Each set of steps that can reach one another (a self-loop included), in file order."""
    ids = set(flow.step_ids)
    graph = {s.id: _successors(s, ids) for s in flow.steps}
    reach = {sid: _reachable(sid, graph) for sid in graph}
    seen: set[str] = set()
    cycles: list[list[Step]] = []
    for step in flow.steps:
        if step.id in seen or step.id not in reach[step.id]:
            continue
        members = {other for other in reach[step.id] if step.id in reach[other]}
        seen |= members
        cycles.append([s for s in flow.steps if s.id in members])
    return cycles


def _reachable(start: str, graph: dict[str, set[str]]) -> set[str]:
    """Steps reachable from `start` in one or more steps."""
    found: set[str] = set()
    todo = list(graph[start])
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(graph[current])
    return found


def _verdict(flow: Flow, cycle: list[Step]) -> str:
    members = {s.id for s in cycle}
    path = " -> ".join(s.id for s in cycle) + (" -> " + cycle[0].id if len(cycle) > 1 else "")
    exits = [e for s in cycle for e in edges(s) if e.target not in members]
    if not exits:
        return (
            f"steps {path} loop with no way out: every call that gets here ends in "
            "an error after the 500-step limit"
            if len(cycle) > 1
            else f"'{cycle[0].id}' leads to itself: every call that gets here ends in an "
            "error after the 500-step limit"
        )
    if any(_progresses(s) for s in cycle):
        return ""
    return (
        f"steps {path} loop, and nothing in the loop changes what its conditions test "
        "(no caller input, counter, backend call or Wait): if the first pass does not "
        "leave, no pass will"
    )


def _progresses(step: Step) -> bool:
    if step.type in _PROGRESS:
        return True
    if step.type == "Condition":
        expressions = [str(b.get("expression", "")) for b in step.config.get("conditions", [])]
        return any("currentTimestamp(" in e for e in expressions)
    return False
