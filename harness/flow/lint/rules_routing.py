"""Error-router rules: IVR011 error-routed-to-success, IVR012 no-timeout-fallback."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from harness.flow.lint.context import Issue, LintContext
from harness.flow.lint.router import RouterVerdict, evaluate_router, router_of
from harness.flow.model import Flow, Step

__all__ = ["check_error_routing", "check_timeout_fallback"]

_TIMEOUT_CLASSES = ("timeout",)


def check_error_routing(ctx: LintContext) -> Iterator[Issue]:
    """IVR011: a non-2xx outcome class reaches the success branch."""
    for flow in ctx.flows:
        for http in flow.http_steps():
            router = router_of(flow, http)
            if router is None:
                continue
            verdict = evaluate_router(flow, http, router, ctx.callers.get(flow.id, ()))
            for route in verdict.routes:
                if route.outcome == "2xx" or route.target not in verdict.success_steps:
                    continue
                yield ctx.issue(
                    "IVR011",
                    flow,
                    router,
                    _branch_pointer(router, route.branch),
                    f"outcome '{route.outcome}' of '{http.id}' reaches success step "
                    f"'{route.target}'{_reads(verdict, route.target)} ({_summary(verdict)})",
                )


def check_timeout_fallback(ctx: LintContext) -> Iterator[Issue]:
    """IVR012: a timeout has no fallback (success branch, dead end, or no router at all)."""
    for flow in ctx.flows:
        for http in flow.http_steps():
            if "onTimeoutStepId" in http.config:
                continue
            problem = _timeout_problem(flow, http, ctx.callers.get(flow.id, ()))
            if problem:
                yield ctx.issue("IVR012", flow, http, http.pointer, problem)


def _timeout_problem(flow: Flow, http: Step, callers: Sequence[tuple[Flow, Step]]) -> str:
    router = router_of(flow, http)
    if router is None:
        return (
            f"'{http.id}' has no onTimeoutStepId and no router: a timeout continues to "
            f"'{http.next_step_id}' as if the call had succeeded"
        )
    verdict = evaluate_router(flow, http, router, callers)
    route = verdict.route("timeout")
    if route.target is None:
        why = route.error or "no condition matches and there is no defaultStepId"
        return f"a timeout of '{http.id}' dead-ends in router '{router.id}': {why}"
    if route.target in verdict.success_steps:
        return f"a timeout of '{http.id}' is routed to success step '{route.target}'"
    return ""


def _branch_pointer(router: Step, branch: int | None) -> str:
    if branch is None:
        return router.pointer + "/configuration"
    return f"{router.pointer}/configuration/conditions/{branch}"


def _reads(verdict: RouterVerdict, target: str | None) -> str:
    read = verdict.readers.get(target or "")
    return f", which {read} from the response (null after it)" if read else ""


def _summary(verdict: RouterVerdict) -> str:
    return ", ".join(f"{r.outcome}->{r.target or 'dead end'}" for r in verdict.routes)
