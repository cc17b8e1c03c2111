"""Graph rules: IVR013 dead-end, IVR014 dangling-step-reference, IVR018 storage-key-never-read."""

from __future__ import annotations

from collections.abc import Iterator

from harness.flow.expr import (
    ExpressionError,
    Scope,
    evaluate,
    mask_placeholders,
    truthy,
    variables_used,
)
from harness.flow.lint.context import Issue, LintContext, edges
from harness.flow.lint.router import evaluate_router
from harness.flow.model import Flow, Step

__all__ = ["check_dangling", "check_dead_ends", "check_storage_keys"]


def check_dangling(ctx: LintContext) -> Iterator[Issue]:
    """IVR014: a step reference that names no step of the flow."""
    for flow in ctx.flows:
        ids = set(flow.step_ids)
        for step in flow.steps:
            for edge in edges(step):
                if edge.target not in ids:
                    yield ctx.issue(
                        "IVR014",
                        flow,
                        step,
                        edge.pointer,
                        f"'{edge.target}' is not a step of flow '{flow.id}'",
                    )


def check_dead_ends(ctx: LintContext) -> Iterator[Issue]:
    """IVR013: a non-terminal step with nowhere to go, or a Condition that can fall through."""
    for flow in ctx.flows:
        for step in flow.steps:
            message = _dead_end(flow, step)
            if message:
                yield ctx.issue("IVR013", flow, step, step.pointer, message)


def _dead_end(flow: Flow, step: Step) -> str:
    if step.is_terminal:
        return ""
    if step.type != "Condition":
        if step.next_step_id is None:
            return f"'{step.id}' is not a terminal step and has no nextStepId"
        return ""
    if "defaultStepId" in step.config:
        return ""
    feeder = next((s for s in flow.http_steps() if s.next_step_id == step.id), None)
    if feeder is not None:
        falls = [r.outcome for r in evaluate_router(flow, feeder, step).routes if r.target is None]
        if falls:
            return f"no branch is taken for outcome(s) {', '.join(falls)} and there is no default"
        return ""
    if any(_always_true(str(b.get("expression", ""))) for b in step.config.get("conditions", [])):
        return ""
    return f"Condition '{step.id}' has no defaultStepId and all its conditions can be false"


def _always_true(expression: str) -> bool:
    try:
        if variables_used(expression):
            return False
        return truthy(evaluate(expression, Scope(variables={}, now_ms=lambda: 0)))
    except ExpressionError:
        return False


def check_storage_keys(ctx: LintContext) -> Iterator[Issue]:
    """IVR018: a Data Storage key written (set/increment) that no step ever reads."""
    read: set[str] = set()
    writes: list[tuple[Flow, Step, str]] = []
    for flow in ctx.flows:
        for step in flow.steps:
            key = _key_shape(step.config.get("key"))
            if key is None:
                continue
            op = step.config.get("operation")
            if step.type == "Wait" or op == "get":
                read.add(key)
            elif step.type == "DataAPI" and op in ("set", "increment"):
                writes.append((flow, step, key))
    for flow, step, key in writes:
        if key not in read:
            yield ctx.issue(
                "IVR018",
                flow,
                step,
                f"{step.pointer}/configuration/key",
                f"Data Storage key '{step.config['key']}' is written here but no step reads it",
            )


def _key_shape(key: object) -> str | None:
    """Keys compare with every placeholder made equal: 'ticket:{{id}}' ~ 'ticket:{{x}}'."""
    return mask_placeholders(key, "{{}}") if isinstance(key, str) else None
