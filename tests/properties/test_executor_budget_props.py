"""The executor never exceeds the worst case ``step_budget`` computes, under any fault schedule.

Each example draws a step configuration (timeout, retry policy, backoff, jitter, retried
statuses, oauth2 or not, a breaker or not) and a fault schedule: one behaviour per attempt
of the resource server and of the token endpoint (the last one repeats). The reference
executor runs it in-process on a :class:`~harness.clock.VirtualClock`, so every wait is
exact and instant: this is never a timed test.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import given, note, target
from hypothesis import strategies as st

from harness.clock import VirtualClock
from harness.executor.context import ExecutorContext
from harness.executor.http_step import HttpStepExecutor
from harness.executor.outcome import StepResult
from harness.executor.resolver import DnsFault, FaultyResolver
from harness.flow.budget import step_budget
from harness.flow.loader import parse_flow
from harness.flow.model import Flow
from tests.fixtures.inprocess import TEST_HOSTS, Reply, Script, ScriptedWire, token_reply

# ~25 s for 1000 examples under the nightly profile: keep clear of the 60 s default.
pytestmark = pytest.mark.timeout(300)

# Virtual time is summed in floats (0.1 + 0.2 ...): allow rounding, nothing more.
FLOAT_SLACK_MS = 1e-6
CAP = 32 * 1024
STATUSES = (200, 202, 401, 403, 429, 500, 502, 503, 504)


@dataclass(frozen=True, slots=True)
class Plan:
    """One drawn example: the step's configuration and both servers' schedules."""

    config: dict[str, Any]
    api: list[Reply]
    token: list[Reply]
    dns_stall_ms: int


def _retry_after(seconds: int | None) -> dict[str, str]:
    return {} if seconds is None else {"Retry-After": str(seconds)}


def replies(timeout_ms: int) -> st.SearchStrategy[Reply]:
    """One attempt's behaviour on the resource server."""
    timeout_s = timeout_ms / 1000
    under = st.floats(0, 0.999).map(lambda f: f * timeout_s)
    retry_after = st.none() | st.integers(0, 5)
    return st.one_of(
        st.builds(Reply, status=st.sampled_from([200, 202, 500, 502, 504]), body=st.just({})),
        st.builds(
            lambda status, ra: Reply(status, {"error": "x"}, headers=_retry_after(ra)),
            st.sampled_from([429, 503]),
            retry_after,
        ),
        st.sampled_from(
            [
                Reply(401, {"error": "token_expired"}),
                Reply(401, {"error": "invalid_token"}),
                Reply(401, headers={"WWW-Authenticate": 'Bearer error="token_expired"'}),
                Reply(403, {"error": "insufficient_scope"}),
                Reply(hang=True),
                Reply(error=httpx.ConnectError),
                Reply(error=httpx.ReadError),
                Reply(raw=b'{"data": [', status=200),
                Reply(raw=b"x" * (CAP + 1), status=200),
            ]
        ),
        st.builds(
            lambda status, delay: Reply(status, {}, delay=delay),
            st.sampled_from(STATUSES),
            under,
        ),
        # A slow drip that ends just before, or runs past, the deadline.
        st.builds(
            lambda n, frac: Reply(raw=b"x" * n, drip_every=timeout_s * frac / n),
            st.integers(1, 50),
            st.floats(0.01, 3.0),
        ),
    )


def token_replies(timeout_ms: int) -> st.SearchStrategy[Reply]:
    """One fetch's behaviour on the token endpoint."""
    timeout_s = timeout_ms / 1000
    return st.one_of(
        st.builds(token_reply, st.just("tok"), st.sampled_from([0, 1, 30, 59, 61, 3600])),
        st.builds(
            lambda frac, exp: Reply(
                body={"access_token": "slow", "expires_in": exp}, delay=frac * timeout_s
            ),
            st.floats(0, 0.999),
            st.sampled_from([0, 2, 3600]),
        ),
        st.sampled_from(
            [
                Reply(500, {"error": "server_error"}),
                Reply(401, {"error": "invalid_client"}),
                Reply(hang=True),
                Reply(error=httpx.ConnectError),
                Reply(raw=b"not json"),
            ]
        ),
    )


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    timeout = draw(st.none() | st.integers(100, 90_000))
    effective = timeout if timeout is not None else 30_000
    policy: dict[str, Any] = {
        "maxRetries": draw(st.integers(0, 4)),
        "backoff": draw(st.sampled_from(["exponential", "fixed", "none"])),
        "retryOnStatusCodes": draw(st.lists(st.sampled_from(STATUSES), unique=True)),
    }
    for key, values in (
        ("initialDelayMs", st.integers(0, 5_000)),
        ("maxDelayMs", st.integers(0, 10_000)),
        ("jitter", st.just("full")),
        ("retryOnTimeout", st.booleans()),
    ):
        if draw(st.booleans()):
            policy[key] = draw(values)
    config: dict[str, Any] = {"url": "http://api.test/x", "method": "GET", "timeout": timeout}
    if draw(st.booleans()):
        config["retryPolicy"] = policy
    if draw(st.booleans()):
        config["authentication"] = {
            "type": "oauth2",
            "clientId": "ivr",
            "clientSecret": "s3cret",
            "tokenEndpoint": "http://auth.test/oauth/token",
            "scopes": ["crm:read"],
        }
    if draw(st.booleans()):
        config["circuitBreaker"] = {
            "key": "b",
            "failureThreshold": draw(st.integers(1, 4)),
            "cooldownMs": draw(st.integers(0, 60_000)),
        }
    config = {k: v for k, v in config.items() if v is not None}
    api = draw(st.lists(replies(effective), min_size=1, max_size=8))
    token = draw(st.lists(token_replies(effective), min_size=1, max_size=4))
    stall = draw(st.sampled_from([0, 0, 0, 50, effective // 2, effective + 1]))
    return Plan(config=config, api=api, token=token, dns_stall_ms=stall)


def _flow(config: dict[str, Any]) -> Flow:
    return parse_flow(
        {
            "id": "f",
            "name": "f",
            "flowType": "IVR",
            "steps": [{"id": "http", "type": "HTTPRequest", "configuration": config}],
        }
    )


async def _execute(plan: Plan, flow: Flow, seed: int) -> tuple[StepResult, Script, list[str]]:
    clock = VirtualClock()
    script = Script(clock, {"/x": plan.api, "/oauth/token": plan.token})
    resolver = FaultyResolver(clock, hosts=TEST_HOSTS)
    if plan.dns_stall_ms:
        resolver.set_fault("api.test", DnsFault(kind="stall", stall_ms=plan.dns_stall_ms))
    ctx = ExecutorContext.create(
        clock=clock, wire=ScriptedWire(script.transport()), resolver=resolver, seed=seed
    )
    try:
        result = await HttpStepExecutor(ctx).execute(flow.steps[0], {}, flow=flow)
    finally:
        await ctx.aclose()
    return result, script, [e.kind for e in ctx.events]


@given(plans(), st.integers(0, 2**32 - 1))
def test_executor_stays_within_the_computed_worst_case(plan: Plan, seed: int) -> None:
    flow = _flow(plan.config)
    step = flow.steps[0]
    budget = step_budget(step, flow)
    result, script, kinds = asyncio.run(_execute(plan, flow, seed))
    note(f"budget={budget}\nresult outcome={result.outcome} attempts={result.attempts}")

    # Steer the search towards schedules that use up as much of the budget as possible.
    target(result.elapsed_ms / max(budget.worst_ms, 1), label="budget used")
    assert result.elapsed_ms <= budget.worst_ms + FLOAT_SLACK_MS
    real = [a for a in result.attempts if a.number]
    retries = int(plan.config.get("retryPolicy", {}).get("maxRetries", 0))
    reauth = kinds.count("token_invalidated")
    assert reauth <= (1 if "authentication" in plan.config else 0)
    assert len(real) <= 1 + retries + reauth
    assert result.variables["http_attempts"] == len(real)
    # At most one request per attempt: the breaker, a failed token fetch and a DNS stall
    # past the deadline send none.
    assert script.count("/x") <= len(real)
    assert script.count("/oauth/token") <= len(real) + 1 + reauth


@given(plans(), st.integers(0, 2**32 - 1))
def test_each_attempt_ends_by_its_own_deadline(plan: Plan, seed: int) -> None:
    flow = _flow(plan.config)
    timeout = int(plan.config.get("timeout", 30_000))
    result, _, _ = asyncio.run(_execute(plan, flow, seed))
    for attempt in result.attempts:
        assert attempt.elapsed_ms <= timeout + FLOAT_SLACK_MS
        if attempt.outcome == "timeout":
            assert attempt.elapsed_ms >= timeout - FLOAT_SLACK_MS
