"""The flow runner: drives one simulated caller through a flow set.

Steps are executed as SPEC section 3 says; a dead end or an unhandled error is
an outcome of the call, never an exception. Every step leaves a
:class:`~harness.executor.timeline.Segment`, from which dead air is computed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError, did_you_mean
from harness.events import looks_secret
from harness.executor.context import ExecutorContext
from harness.executor.deadline import DeadlineExceeded, within
from harness.executor.http_step import HttpStepExecutor
from harness.executor.timeline import Caller, CallResult, Segment, dead_air
from harness.flow.expr import (
    ExpressionError,
    Scope,
    evaluate_condition,
    render,
    render_noting_blanks,
    to_text,
    truthy,
)
from harness.flow.model import Flow, FlowSet, Step
from harness.flow.outcomes import SUCCESSFUL

__all__ = ["FlowRunner"]

_TERMINALS = {"Transfer", "Voicemail", "Hangup"}


@dataclass(frozen=True, slots=True, kw_only=True)
class _End:
    """How a flow (main or sub) stopped."""

    kind: str  # terminal | return | dead_end | error
    step_id: str
    reason: str = ""
    outcome: str = ""


@dataclass(kw_only=True)
class _CallState:
    caller: Caller
    segments: list[Segment] = field(default_factory=list)
    digits: list[str] = field(default_factory=list)
    steps_run: int = 0
    tenant: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Step:
    """What a step handler hands back to the loop."""

    next_id: str | None = None
    end: _End | None = None
    audio: bool = False
    caller_input: bool = False
    detail: Mapping[str, Any] = field(default_factory=dict)


class StepFailure(Exception):
    """An unhandled error inside a step (the platform's error branch)."""


class FlowRunner:
    """Runs simulated calls through a flow set with a shared executor context."""

    def __init__(
        self,
        flows: FlowSet,
        ctx: ExecutorContext,
        *,
        default_prompt_ms: int = 1500,
        max_steps: int = 500,
        audio_scale: float = 1.0,
    ) -> None:
        self.flows = flows
        self.ctx = ctx
        self.http = HttpStepExecutor(ctx)
        self.default_prompt_ms = default_prompt_ms
        self.max_steps = max_steps
        # 0 plays prompts instantly (an engineer's quick `call`); the timeline keeps
        # their nominal length in the segment detail either way.
        self.audio_scale = audio_scale

    async def run_call(
        self, flow_id: str, caller: Caller, variables: Mapping[str, Any] | None = None
    ) -> CallResult:
        """Run one call. `variables` are tenant variables (configuration and secrets a
        deployment supplies): visible in every flow of the call, sub-flows included,
        over each flow's own defaults. Call state still reaches a sub-flow only
        through `passThroughVariables`."""
        flow = self.flows.get(flow_id)
        if flow is None:
            raise ConfigError(
                f"unknown flow id '{flow_id}'",
                file=self.flows.root,
                hint=did_you_mean(flow_id, self.flows.flows)
                or "known: " + ", ".join(self.flows.flows),
            )
        state = _CallState(caller=caller, digits=list(caller.dtmf), tenant=dict(variables or {}))
        scope: dict[str, Any] = {
            **flow.variables,
            "ani": caller.ani,
            "dnis": caller.dnis,
            "flow_execution_id": caller.call_id,
            **(variables or {}),
        }
        # Secrets a deployment supplies are known before the first event of the call.
        self._protect_secrets(scope)
        start = self.ctx.now_ms()
        self.ctx.emit("call_start", call_id=caller.call_id, flow_id=flow.id, ani=caller.ani)
        end = await self._run_flow(flow, scope, state)
        outcome = end.outcome if end.kind == "terminal" else end.kind
        total, longest = dead_air(state.segments)
        result = CallResult(
            call_id=caller.call_id,
            flow_id=flow.id,
            outcome=outcome,
            terminal_step=end.step_id,
            reason=end.reason,
            start_ms=start,
            end_ms=self.ctx.now_ms(),
            segments=tuple(state.segments),
            variables=dict(scope),
            dead_air_ms=total,
            max_dead_air_ms=longest,
        )
        self.ctx.emit(
            "call_end",
            call_id=caller.call_id,
            step_id=end.step_id,
            outcome=outcome,
            reason=end.reason,
            duration_ms=round(result.duration_ms, 3),
            dead_air_ms=round(total, 3),
            max_dead_air_ms=round(longest, 3),
        )
        return result

    async def run_jobs(
        self, variables: Mapping[str, Any] | None = None, *, round_: int = 1
    ) -> list[CallResult]:
        """Run every Scheduled flow once, as the platform does at deployment and then on
        its schedule (e.g. a token refresher filling Data Storage)."""
        results = []
        for job in self.flows.scheduled():
            caller = Caller(ani="", dnis="", call_id=f"job-{job.id}-{round_}")
            results.append(await self.run_call(job.id, caller, variables))
        return results

    async def _run_flow(self, flow: Flow, scope: dict[str, Any], state: _CallState) -> _End:
        step = flow.step(flow.entry_step_id)
        while step is not None:
            state.steps_run += 1
            if state.steps_run > self.max_steps:
                return _End(kind="error", step_id=step.id, reason=f"over {self.max_steps} steps")
            started = self.ctx.now_ms()
            try:
                outcome = await self._step(flow, step, scope, state)
            except StepFailure as exc:
                self._segment(state, flow, step, started, _Step(detail={"error": str(exc)}))
                self.ctx.emit(
                    "step_error", call_id=state.caller.call_id, step_id=step.id, error=str(exc)
                )
                return _End(kind="error", step_id=step.id, reason=str(exc))
            if step.type == "SubFlow":
                # The child's own steps already cover this span; a zero-length marker
                # keeps the timeline (and dead air) from counting it twice.
                outcome = _Step(
                    next_id=outcome.next_id,
                    end=outcome.end,
                    detail={**outcome.detail, "span_ms": round(self.ctx.now_ms() - started, 3)},
                )
                started = self.ctx.now_ms()
            self._protect_secrets(scope)
            self._segment(state, flow, step, started, outcome)
            if outcome.end is not None:
                return outcome.end
            if outcome.next_id is None:
                return self._dead_end(state, step, "no branch and no next step")
            nxt = flow.step(outcome.next_id)
            if nxt is None:
                return self._dead_end(state, step, f"next step '{outcome.next_id}' does not exist")
            step = nxt
        return _End(kind="dead_end", step_id=flow.entry_step_id, reason="empty flow")

    def _protect_secrets(self, scope: Mapping[str, Any]) -> None:
        # A token a flow fetched or read from Data Storage is as secret as a configured one.
        for name, value in scope.items():
            if isinstance(value, str) and looks_secret(name):
                self.ctx.events.redactor.add(value)

    def _dead_end(self, state: _CallState, step: Step, reason: str) -> _End:
        self.ctx.emit("dead_end", call_id=state.caller.call_id, step_id=step.id, reason=reason)
        return _End(kind="dead_end", step_id=step.id, reason=reason)

    def _segment(
        self, state: _CallState, flow: Flow, step: Step, started: float, outcome: _Step
    ) -> None:
        state.segments.append(
            Segment(
                flow_id=flow.id,
                step_id=step.id,
                step_type=step.type,
                start_ms=started,
                end_ms=self.ctx.now_ms(),
                audio=outcome.audio,
                caller_input=outcome.caller_input,
                detail=self.ctx.events.redactor(dict(outcome.detail)),
            )
        )

    async def _step(
        self, flow: Flow, step: Step, scope: dict[str, Any], state: _CallState
    ) -> _Step:
        handler = getattr(self, f"_do_{step.type}")
        result: _Step = await handler(flow, step, scope, state)
        return result

    def _scope(self, scope: Mapping[str, Any]) -> Scope:
        return Scope(variables=scope, now_ms=self.ctx.clock.wall_ms)

    def _noted(self, template: Any, scope: Mapping[str, Any]) -> tuple[str, list[str]]:
        """What the caller hears (or where the call goes), and the placeholders that left
        a blank in it (see `render_noting_blanks`)."""
        try:
            value, blanks = render_noting_blanks(template, scope, now_ms=self.ctx.clock.wall_ms)
        except ExpressionError as exc:
            raise StepFailure(str(exc)) from exc
        return to_text(value), blanks

    def _text(self, template: Any, scope: Mapping[str, Any]) -> str:
        return to_text(render(template, scope, now_ms=self.ctx.clock.wall_ms))

    # -- step types ----------------------------------------------------------------------------

    async def _do_HTTPRequest(  # noqa: N802 - named after the step type
        self, flow: Flow, step: Step, scope: dict[str, Any], state: _CallState
    ) -> _Step:
        result = await self.http.execute(step, scope, call_id=state.caller.call_id, flow=flow)
        scope.update(result.variables)
        nxt = step.next_step_id
        if result.outcome == "timeout" and step.config.get("onTimeoutStepId"):
            nxt = step.config["onTimeoutStepId"]
        elif result.outcome not in SUCCESSFUL and step.config.get("onErrorStepId"):
            nxt = step.config["onErrorStepId"]
        detail = {
            "outcome": result.outcome,
            "status": result.status,
            "attempts": len([a for a in result.attempts if a.number]),
            "inline_token_fetch": result.inline_token_fetch,
            "error_code": result.error_code,
            "next": nxt,
        }
        if result.blanks:
            detail["blanks"] = list(result.blanks)
        return _Step(next_id=nxt, detail=detail)

    async def _do_Condition(  # noqa: N802
        self, flow: Flow, step: Step, scope: dict[str, Any], state: _CallState
    ) -> _Step:
        for index, branch in enumerate(step.config.get("conditions", [])):
            try:
                value = evaluate_condition(branch["expression"], self._scope(scope))
            except ExpressionError as exc:
                raise StepFailure(f"condition {index}: {exc}") from exc
            if truthy(value):
                return _Step(
                    next_id=branch["nextStepId"],
                    detail={"branch": index, "next": branch["nextStepId"]},
                )
        default = step.config.get("defaultStepId")
        return _Step(
            next_id=default, detail={"branch": "default" if default else None, "next": default}
        )

    async def _do_SubFlow(  # noqa: N802
        self, flow: Flow, step: Step, scope: dict[str, Any], state: _CallState
    ) -> _Step:
        child = self.flows.subflow_target(flow, step)
        if child is None:
            raise StepFailure(f"sub-flow '{step.config.get('flowId')}' not found")
        passed = {name: scope.get(name) for name in step.config.get("passThroughVariables", [])}
        child_scope: dict[str, Any] = {
            **child.variables,
            **state.tenant,
            "ani": scope.get("ani"),
            "flow_execution_id": scope.get("flow_execution_id"),
            **passed,
        }
        end = await self._run_flow(child, child_scope, state)
        if end.kind == "terminal":
            return _Step(end=end, detail={"child": child.id, "ended": end.outcome})
        failed = end.kind != "return"
        for name in step.config.get("returnVariables", []):
            scope[name] = None if failed else child_scope.get(name)
        scope["subflow_error"] = failed
        scope["subflow_error_reason"] = (
            f"{end.kind} at {end.step_id}: {end.reason}" if failed else ""
        )
        detail = {"child": child.id, "subflow_error": failed, "child_end": end.kind}
        return _Step(next_id=step.next_step_id, detail=detail)

    async def _do_DataAPI(  # noqa: N802
        self, flow: Flow, step: Step, scope: dict[str, Any], state: _CallState
    ) -> _Step:
        cfg = step.config
        op = cfg["operation"]
        storage = self.ctx.storage
        result: Any = None
        if op == "evaluate":
            try:
                result = evaluate_condition(cfg["expression"], self._scope(scope))
            except ExpressionError as exc:
                raise StepFailure(str(exc)) from exc
        else:
            key = self._text(cfg["key"], scope)
            if op == "get":
                result = storage.get(key)
            elif op == "set":
                result = render(cfg.get("value"), scope, now_ms=self.ctx.clock.wall_ms)
                storage.set(key, result, cfg.get("ttlMs"))
            elif op == "increment":
                by = render(cfg.get("value", 1), scope, now_ms=self.ctx.clock.wall_ms)
                result = storage.increment(
                    key, by if isinstance(by, int | float) else 1, cfg.get("ttlMs")
                )
            else:
                storage.delete(key)
        if cfg.get("resultVariable"):
            scope[cfg["resultVariable"]] = result
            # A token read back from Data Storage is registered before it is shown, and
            # shown redacted before it is shortened: a cut-off token no longer matches.
            self._protect_secrets(scope)
        brief = self.ctx.events.redactor.brief(to_text(result))
        return _Step(next_id=step.next_step_id, detail={"operation": op, "result": brief})

    async def _do_Play(  # noqa: N802
        self, flow: Flow, step: Step, scope: dict[str, Any], state: _CallState
    ) -> _Step:
        duration = int(step.config.get("durationMs", self.default_prompt_ms))
        prompt, blanks = self._noted(step.config["prompt"], scope)
        self.ctx.emit(
            "audio",
            call_id=state.caller.call_id,
            step_id=step.id,
            prompt=prompt,
            duration_ms=duration,
        )
        await self.ctx.clock.sleep(duration * self.audio_scale / 1000)
        detail: dict[str, Any] = {"prompt": prompt, "nominal_ms": duration}
        if blanks:
            detail["blanks"] = blanks
        return _Step(next_id=step.next_step_id, audio=True, detail=detail)

    async def _do_CollectDigits(  # noqa: N802
        self, flow: Flow, step: Step, scope: dict[str, Any], state: _CallState
    ) -> _Step:
        cfg = step.config
        digits = state.digits.pop(0) if state.digits else ""
        terminator = cfg.get("terminator")
        if terminator and terminator in digits:
            digits = digits.split(terminator, 1)[0]
        if cfg.get("maxDigits"):
            digits = digits[: int(cfg["maxDigits"])]
        if len(digits) < int(cfg.get("minDigits") or 0):
            digits = ""  # too few keys: the platform's no-input result, as a timeout gives
        scope[cfg["variable"]] = digits
        if cfg.get("prompt"):
            await self.ctx.clock.sleep(self.default_prompt_ms * self.audio_scale / 1000)
        return _Step(
            next_id=step.next_step_id, caller_input=True, detail={"digits_len": len(digits)}
        )

    async def _do_Wait(  # noqa: N802
        self, flow: Flow, step: Step, scope: dict[str, Any], state: _CallState
    ) -> _Step:
        cfg = step.config
        key = self._text(cfg["key"], scope)
        every = cfg.get("progressPromptEveryMs")
        value, waited_out, prompts = await self._wait_for(
            key, int(cfg["maxWaitMs"]), every, state, step
        )
        if cfg.get("resultVariable"):
            scope[cfg["resultVariable"]] = value
        scope["wait_timed_out"] = waited_out
        nxt = (
            cfg.get("onTimeoutStepId")
            if waited_out and cfg.get("onTimeoutStepId")
            else step.next_step_id
        )
        detail = {"key": key, "timed_out": waited_out, "progress_prompts": prompts, "next": nxt}
        return _Step(next_id=nxt, audio=bool(every), detail=detail)

    async def _wait_for(
        self, key: str, max_ms: int, every: int | None, state: _CallState, step: Step
    ) -> tuple[Any, bool, int]:
        storage = self.ctx.storage
        arrived = asyncio.Event()

        def listener(changed: str, _value: Any) -> None:
            if changed == key:
                arrived.set()

        unsubscribe = storage.subscribe(listener)
        prompts = 0
        try:
            deadline = self.ctx.clock.monotonic() + max_ms / 1000
            while storage.get(key) is None:
                remaining = deadline - self.ctx.clock.monotonic()
                if remaining <= 0:
                    return None, True, prompts
                chunk = min(remaining, every / 1000) if every else remaining
                try:
                    await within(self.ctx.clock, chunk, arrived.wait())
                except DeadlineExceeded:
                    if every and self.ctx.clock.monotonic() < deadline:
                        prompts += 1
                        self.ctx.emit(
                            "audio",
                            call_id=state.caller.call_id,
                            step_id=step.id,
                            prompt="progress",
                        )
            return storage.get(key), False, prompts
        finally:
            unsubscribe()

    async def _terminal(self, step: Step, outcome: str, blanks: list[str] | None = None) -> _Step:
        detail: dict[str, Any] = {"outcome": outcome}
        if blanks:
            detail["blanks"] = blanks
        return _Step(end=_End(kind="terminal", step_id=step.id, outcome=outcome), detail=detail)

    async def _do_Transfer(  # noqa: N802
        self, flow: Flow, step: Step, scope: dict[str, Any], state: _CallState
    ) -> _Step:
        queue, blanks = self._noted(step.config["queue"], scope)
        return await self._terminal(step, f"transfer:{queue}", blanks)

    async def _do_Voicemail(  # noqa: N802
        self, flow: Flow, step: Step, scope: dict[str, Any], state: _CallState
    ) -> _Step:
        return await self._terminal(step, "voicemail")

    async def _do_Hangup(  # noqa: N802
        self, flow: Flow, step: Step, scope: dict[str, Any], state: _CallState
    ) -> _Step:
        return await self._terminal(step, "hangup")

    async def _do_Return(  # noqa: N802
        self, flow: Flow, step: Step, scope: dict[str, Any], state: _CallState
    ) -> _Step:
        return _Step(end=_End(kind="return", step_id=step.id), detail={})
