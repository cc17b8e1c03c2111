"""IVR017 dead-air-budget: the longest worst-case silence on a call path over the budget."""

from __future__ import annotations

from collections.abc import Iterator

from harness.flow.budget import PathItem, flow_budget
from harness.flow.lint.context import Issue, LintContext

__all__ = ["check_dead_air"]


def check_dead_air(ctx: LintContext) -> Iterator[Issue]:
    """One finding per step that carries the most silence of an over-budget run."""
    worst: dict[tuple[str, str], tuple[int, tuple[PathItem, ...]]] = {}
    for entry in ctx.flows.entry_flows():
        report = flow_budget(ctx.flows, entry.id, ctx.profile, ctx.dead_air_budget_ms)
        for path in report.paths:
            if not path.over_budget:
                continue
            anchor = max(path.longest_silence, key=lambda i: i.silent_ms)
            key = (anchor.flow_id, anchor.step_id)
            if key not in worst or worst[key][0] < path.longest_silence_ms:
                worst[key] = (path.longest_silence_ms, path.longest_silence)
    for (flow_id, step_id), (silence, run) in sorted(worst.items()):
        flow = ctx.flows.get(flow_id)
        step = flow.step(step_id) if flow else None
        if flow is None or step is None:
            continue
        chain = " + ".join(f"{i.label} {i.silent_ms}" for i in run)
        yield ctx.issue(
            "IVR017",
            flow,
            step,
            step.pointer,
            f"worst-case dead air {silence} ms exceeds the {ctx.dead_air_budget_ms} ms budget "
            f"({chain})",
        )
