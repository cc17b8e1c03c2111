"""The reference executor of one HTTPRequest step (SPEC section 4).

One step execution is: breaker check, authorisation (maybe an inline token
fetch), then attempts under a retry loop. Each attempt runs under one
deadline on the injected clock covering DNS to the last body byte. The result
carries the outcome variables the flow routes on, plus the mapped variables.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.events import looks_secret
from harness.executor.auth import Authorizer
from harness.executor.breaker import CircuitBreaker, State, Transition, counts_as_failure
from harness.executor.context import ExecutorContext
from harness.executor.deadline import DeadlineExceeded, within
from harness.executor.outcome import (
    Attempt,
    StepResult,
    error_code,
    parse_json,
    retry_after_ms,
)
from harness.executor.wire import TRACE_HEADER, WireError, WireResponse, exchange
from harness.flow.credentials import Token, TokenError, TokenKey
from harness.flow.expr import (
    ExpressionError,
    Scope,
    evaluate_mapping,
    render,
    render_noting_blanks,
    substitute_text,
    to_text,
)
from harness.flow.http_config import MISSING, HttpStepConfig, parse_http_config
from harness.flow.model import Flow, Step
from harness.flow.outcomes import SUCCESSFUL, classify

__all__ = ["HttpStepExecutor"]

_AUTH_RETRY_CODES = frozenset({"invalid_token", "token_expired"})
# A URL the caller's data made unsendable: not the backend's fault, never retried or counted.
_INVALID_URL = "EINVALIDURL"
_TOKEN_FIELDS = ("access_token", "refresh_token", "id_token")


@dataclass(kw_only=True)
class _Call:
    step: Step
    cfg: HttpStepConfig
    call_id: str
    ref: str  # FLOW/STEP: the step's lane and the trace a stand-in backend journals
    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None
    breaker: CircuitBreaker | None
    variables: Mapping[str, Any] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    token_key: TokenKey | None = None
    token: Token | None = None
    inline_fetch: bool = False
    auth_retried: bool = False
    permit_settled: bool = True
    gave_up: str = ""
    blanks: tuple[str, ...] = ()


class HttpStepExecutor:
    """Executes HTTPRequest steps against a shared :class:`ExecutorContext`."""

    def __init__(self, ctx: ExecutorContext) -> None:
        self.ctx = ctx
        self.auth = Authorizer(
            tokens=ctx.tokens, redactor=ctx.events.redactor, clock=ctx.clock, emit=ctx.emit
        )

    async def execute(
        self,
        step: Step,
        variables: Mapping[str, Any],
        *,
        call_id: str = "",
        flow: Flow | None = None,
    ) -> StepResult:
        ctx = self.ctx
        cfg = parse_http_config(step, ctx.profile, flow)
        call = self._prepare(step, cfg, variables, call_id, flow)
        start = ctx.clock.monotonic()
        ctx.emit("step_start", call_id=call_id, step_id=step.id, method=call.method, url=call.url)
        last = await self._run(call)
        elapsed = (ctx.clock.monotonic() - start) * 1000
        result = self._result(call, last, elapsed, variables)
        ctx.emit(
            "step_end",
            call_id=call_id,
            step_id=step.id,
            outcome=result.outcome,
            status=result.status,
            attempts=len([a for a in call.attempts if a.number]),
            elapsed_ms=round(elapsed, 3),
            error_code=result.error_code,
            inline_token_fetch=result.inline_token_fetch,
        )
        return result

    # -- preparation -----------------------------------------------------------------------

    def _prepare(
        self,
        step: Step,
        cfg: HttpStepConfig,
        variables: Mapping[str, Any],
        call_id: str,
        flow: Flow | None,
    ) -> _Call:
        now = self.ctx.clock.wall_ms
        rendered, blanks = render_noting_blanks(
            {"url": cfg.url, "headers": dict(cfg.headers)}, variables, now_ms=now
        )
        url = to_text(rendered["url"])
        headers = {k: to_text(v) for k, v in rendered["headers"].items()}
        content: bytes | None = None
        if cfg.body is not MISSING:
            if isinstance(cfg.body, str):
                # Textual substitution, as the platform does: the injection risk is real.
                content = substitute_text(cfg.body, variables, now_ms=now).encode()
                blanks += render_noting_blanks(cfg.body, variables, now_ms=now)[1]
            else:
                body, body_blanks = render_noting_blanks(cfg.body, variables, now_ms=now)
                content = json.dumps(body).encode()
                blanks += body_blanks
            headers.setdefault("Content-Type", "application/json")
        self._register_secrets(cfg, variables)
        for name, value in headers.items():
            if looks_secret(name):
                self.ctx.events.redactor.add(value, value.split(" ", 1)[-1])
        breaker = None
        if cfg.breaker is not None:
            breaker = CircuitBreaker(
                cfg.breaker,
                self.ctx.storage,
                self.ctx.now_ms,
                self._breaker_event(call_id, step.id),
            )
        return _Call(
            step=step,
            cfg=cfg,
            call_id=call_id,
            ref=f"{flow.id}/{step.id}" if flow is not None else step.id,
            method=cfg.method,
            url=url,
            headers=headers,
            content=content,
            breaker=breaker,
            variables=variables,
            blanks=tuple(blanks),
        )

    def _register_secrets(self, cfg: HttpStepConfig, variables: Mapping[str, Any]) -> None:
        # Registered before the first event, so not even the step_start URL can leak one.
        if not cfg.auth:
            return
        for name in ("clientSecret", "headerValue", "password"):
            if name in cfg.auth:
                value = render(cfg.auth[name], variables, now_ms=self.ctx.clock.wall_ms)
                self.ctx.events.redactor.add(to_text(value))

    def _breaker_event(self, call_id: str, step_id: str) -> Transition:
        def emit(key: str, old: State, new: State) -> None:
            self.ctx.emit("breaker", call_id=call_id, step_id=step_id, key=key, old=old, new=new)

        return emit

    # -- the retry loop ----------------------------------------------------------------------

    async def _run(self, call: _Call) -> Attempt:
        # A plain loop, not tenacity: see ARCHITECTURE.md, "Why not tenacity".
        tries = 1
        attempt = await self._one(call)
        while self._should_retry(call, attempt) and not self._stop(call, attempt, tries):
            await self._backoff(call, self._wait(call, attempt, tries))
            tries += 1
            attempt = await self._one(call)
        return attempt

    def _should_retry(self, call: _Call, attempt: Attempt) -> bool:
        policy = call.cfg.retry
        if attempt.code in ("insufficient_scope", _INVALID_URL) or attempt.number == 0:
            return False
        if attempt.outcome == "timeout":
            return policy.retry_on_timeout
        if attempt.outcome in ("connection_error", "dns_error"):
            return True
        return attempt.status in policy.retry_on_status

    def _stop(self, call: _Call, last: Attempt, tries: int) -> bool:
        """No retry left, or a Retry-After longer than the policy allows: give up."""
        if tries >= call.cfg.attempts:
            return True
        if last.retry_after_ms is not None:
            if last.retry_after_ms > call.cfg.retry.max_delay_ms:
                call.gave_up = "retry_after_exceeds_max_delay"
                self.ctx.emit(
                    "retry_abandoned",
                    call_id=call.call_id,
                    step_id=call.step.id,
                    reason=call.gave_up,
                    retry_after_ms=last.retry_after_ms,
                    max_delay_ms=call.cfg.retry.max_delay_ms,
                )
                return True
        return False

    def _wait(self, call: _Call, last: Attempt, tries: int) -> float:
        """Seconds before retry number `tries`: the server's Retry-After, else the backoff."""
        if last.retry_after_ms is not None:
            return last.retry_after_ms / 1000
        delay = call.cfg.retry.delay_ms(tries)
        if call.cfg.retry.jitter:
            delay = self.ctx.rng.uniform(0, delay)
        return delay / 1000

    async def _backoff(self, call: _Call, seconds: float) -> None:
        self.ctx.emit(
            "backoff", call_id=call.call_id, step_id=call.step.id, wait_ms=round(seconds * 1000, 3)
        )
        await self.ctx.clock.sleep(seconds)

    async def _one(self, call: _Call) -> Attempt:
        if call.breaker is None:
            return await self._authorized_attempt(call)
        permit = call.breaker.acquire()
        if permit is None:
            self.ctx.emit("circuit_open", call_id=call.call_id, step_id=call.step.id)
            return Attempt(number=0, outcome="circuit_open", started_ms=self.ctx.now_ms())
        call.permit_settled = False
        try:
            return await self._authorized_attempt(call)
        finally:
            # No token, a bad URL, a cancelled caller: the backend never answered, so the
            # breaker learns nothing, but a half-open trial must not stay taken for ever.
            if not call.permit_settled:
                call.breaker.release(permit)

    async def _authorize(self, call: _Call) -> Mapping[str, str]:
        def send(
            method: str, url: str, headers: Mapping[str, str], content: bytes | None
        ) -> Awaitable[WireResponse]:
            return self._send(call, method, url, headers, content, attempt=0)

        credentials = await self.auth.authorize(
            call.cfg.auth, call.variables, send=send, call_id=call.call_id, step_id=call.step.id
        )
        call.inline_fetch = call.inline_fetch or credentials.inline_fetch
        if credentials.token_key is not None:
            call.token_key, call.token = credentials.token_key, credentials.token
        return credentials.headers

    async def _authorized_attempt(self, call: _Call) -> Attempt:
        try:
            auth = await self._authorize(call)
        except TokenError as exc:
            return Attempt(number=0, outcome="auth_error", status=exc.status, code=exc.code)
        attempt = await self._attempt(call, auth)
        if (
            attempt.status == 401
            and attempt.code in _AUTH_RETRY_CODES
            and call.token_key is not None
            and not call.auth_retried
        ):
            call.auth_retried = True
            self.ctx.tokens.invalidate(call.token_key, call.token)
            self.ctx.emit(
                "token_invalidated", call_id=call.call_id, step_id=call.step.id, reason=attempt.code
            )
            try:
                auth = await self._authorize(call)
            except TokenError as exc:
                return Attempt(number=0, outcome="auth_error", status=exc.status, code=exc.code)
            attempt = await self._attempt(call, auth)
        return attempt

    # -- one request -------------------------------------------------------------------------

    async def _attempt(self, call: _Call, auth: Mapping[str, str]) -> Attempt:
        ctx = self.ctx
        number = len([a for a in call.attempts if a.number]) + 1
        queued = ctx.clock.monotonic()
        async with ctx.slots:
            waited = (ctx.clock.monotonic() - queued) * 1000
            if waited > 0:
                ctx.emit("queued", call_id=call.call_id, step_id=call.step.id, wait_ms=waited)
            started = ctx.clock.monotonic()
            ctx.emit("attempt_start", call_id=call.call_id, step_id=call.step.id, attempt=number)
            attempt = await self._exchange(call, {**call.headers, **auth}, number, started)
        call.attempts.append(attempt)
        if call.breaker is not None and attempt.code != _INVALID_URL:
            failed = counts_as_failure(
                attempt.outcome, attempt.status, call.breaker.config.count_on
            )
            call.breaker.record(failed)
            call.permit_settled = True
        ctx.emit(
            "attempt_end",
            call_id=call.call_id,
            step_id=call.step.id,
            attempt=number,
            outcome=attempt.outcome,
            status=attempt.status,
            code=attempt.code,
            elapsed_ms=round(attempt.elapsed_ms, 3),
            timeout_ms=call.cfg.timeout_ms,
            body_sha256=attempt.body_sha256,
        )
        return attempt

    async def _exchange(
        self, call: _Call, headers: Mapping[str, str], number: int, started: float
    ) -> Attempt:
        ctx = self.ctx
        begin_ms = (started - ctx.t0) * 1000
        try:
            response = await self._send(
                call, call.method, call.url, headers, call.content, attempt=number
            )
        except DeadlineExceeded:
            return self._failed(number, "timeout", "ETIMEDOUT", started, begin_ms)
        except WireError as exc:
            return self._failed(number, exc.outcome, exc.code, started, begin_ms)
        return self._completed(call, response, number, started, begin_ms)

    async def _send(
        self,
        call: _Call,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        *,
        attempt: int,
    ) -> WireResponse:
        """One exchange under the step's per-attempt deadline (DNS to the last byte);
        `attempt` 0 is a token fetch on the step's behalf."""
        ctx = self.ctx
        if ctx.trace:
            trace = f"call={call.call_id};step={call.ref};attempt={attempt}"
            headers = {**headers, TRACE_HEADER: trace}
        return await within(
            ctx.clock,
            call.cfg.timeout_ms / 1000,
            exchange(
                ctx.wire,
                resolver=ctx.resolver,
                router=ctx.router,
                method=method,
                url=url,
                headers=headers,
                content=content,
                cap_bytes=ctx.profile.response_cap_bytes,
                lane=call.ref,
                max_url_chars=ctx.profile.max_url_chars,
            ),
        )

    def _failed(
        self, number: int, outcome: str, code: str, started: float, begin: float
    ) -> Attempt:
        elapsed = (self.ctx.clock.monotonic() - started) * 1000
        return Attempt(
            number=number, outcome=outcome, code=code, started_ms=begin, elapsed_ms=elapsed
        )

    def _completed(
        self, call: _Call, response: WireResponse, number: int, started: float, begin: float
    ) -> Attempt:
        elapsed = (self.ctx.clock.monotonic() - started) * 1000
        outcome = "too_large" if response.truncated else classify(response.status)
        document = MISSING if response.truncated else parse_json(response.body)
        return Attempt(
            number=number,
            outcome=outcome,
            status=response.status,
            code=error_code(response, document),
            started_ms=begin,
            elapsed_ms=elapsed,
            body_sha256=hashlib.sha256(response.body).hexdigest() if response.body else "",
            retry_after_ms=retry_after_ms(response, self.ctx.clock.wall_ms()),
            location=response.headers.get("location", ""),
            document=document,
        )

    # -- the result ----------------------------------------------------------------------------

    def _result(
        self, call: _Call, last: Attempt, elapsed: float, variables: Mapping[str, Any]
    ) -> StepResult:
        real = [a for a in call.attempts if a.number]
        final = last if (last.number or not real) else real[-1]
        self._protect_tokens(final.document)
        mapped = self._map(call, final, variables)
        # A token a flow fetches itself is a secret from the moment it is mapped.
        self.ctx.events.redactor.add(*[v for k, v in mapped.items() if looks_secret(k)])
        outcome_vars = {
            "http_status_code": final.status,
            "http_outcome": final.outcome,
            "http_attempts": len(real),
            "http_elapsed_ms": int(round(elapsed)),
            "http_location": final.location,
            "http_error_code": final.code or call.gave_up,
        }
        return StepResult(
            outcome=final.outcome,
            status=final.status,
            attempts=tuple(call.attempts),
            elapsed_ms=elapsed,
            location=final.location,
            error_code=final.code or call.gave_up,
            inline_token_fetch=call.inline_fetch,
            variables={**mapped, **outcome_vars},
            blanks=call.blanks,
        )

    def _protect_tokens(self, document: Any) -> None:
        # Whatever name a flow maps it to, a token endpoint's answer holds secrets.
        if isinstance(document, Mapping):
            self.ctx.events.redactor.add(*[document.get(k) for k in _TOKEN_FIELDS])

    def _map(self, call: _Call, final: Attempt, variables: Mapping[str, Any]) -> dict[str, Any]:
        cfg = call.cfg
        document = final.document if final.outcome in SUCCESSFUL else MISSING
        if (document is MISSING or document is None) and cfg.default_response is not MISSING:
            document = cfg.default_response
        out: dict[str, Any] = {}
        for name, path in cfg.mapping.items():
            if document is MISSING:
                out[name] = None
                continue
            try:
                out[name] = evaluate_mapping(
                    path,
                    Scope(variables=variables, response=document, now_ms=self.ctx.clock.wall_ms),
                )
            except ExpressionError as exc:
                out[name] = None
                self.ctx.emit(
                    "mapping_error",
                    call_id=call.call_id,
                    step_id=call.step.id,
                    name=name,
                    error=str(exc),
                )
        return out
