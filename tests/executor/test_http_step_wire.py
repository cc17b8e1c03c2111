"""The executor rules again, over real sockets against servers on 127.0.0.1.

Timing assertions: the lower bound is physical and exact (a timeout never fires
early); the upper bound leaves room for a noisy CI machine. `make bench`
measures the tight tolerances.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.executor.context import ExecutorContext
from harness.executor.resolver import DnsFault
from tests.fixtures.flows import http_step
from tests.fixtures.servers import ScriptedServer, WireReply, routed

SLACK_MS = 750  # CI noise allowance on upper bounds only


async def test_503_503_200_with_real_backoff(
    wire: ExecutorContext, scripted: ScriptedServer
) -> None:
    scripted.script("/x", WireReply(503), WireReply(503), WireReply(200, {"ok": 1}))
    executor = routed(wire, api_test=scripted.url)
    policy = {
        "maxRetries": 2,
        "backoff": "exponential",
        "initialDelayMs": 100,
        "retryOnStatusCodes": [503],
    }
    start = time.monotonic()
    result = await executor.execute(http_step(retryPolicy=policy), {})
    elapsed = (time.monotonic() - start) * 1000
    assert result.outcome == "success" and result.variables["http_attempts"] == 3
    assert scripted.count("/x") == 3
    assert 300 <= elapsed < 300 + SLACK_MS


async def test_never_answering_server_ends_the_attempt_at_its_timeout(
    wire: ExecutorContext, black_hole: str
) -> None:
    executor = routed(wire, api_test=black_hole)
    start = time.monotonic()
    result = await executor.execute(http_step(timeout=500), {})
    elapsed = (time.monotonic() - start) * 1000
    assert result.outcome == "timeout" and result.status == 0
    assert 500 <= elapsed < 500 + SLACK_MS
    assert result.elapsed_ms >= 500


async def test_slow_drip_body_ends_at_timeout_not_after_ten_seconds(
    wire: ExecutorContext, scripted: ScriptedServer
) -> None:
    scripted.script("/x", WireReply(200, raw=b"x" * 100, drip_every=0.1))
    executor = routed(wire, api_test=scripted.url)
    start = time.monotonic()
    result = await executor.execute(http_step(timeout=1000), {})
    elapsed = (time.monotonic() - start) * 1000
    assert result.outcome == "timeout"
    assert 1000 <= elapsed < 1000 + SLACK_MS


async def test_403_insufficient_scope_is_one_request_on_the_wire(
    wire: ExecutorContext, scripted: ScriptedServer
) -> None:
    scripted.script("/x", WireReply(403, {"error": "insufficient_scope"}))
    scripted.script("/oauth/token", WireReply(200, {"access_token": "t", "expires_in": 3600}))
    executor = routed(wire, api_test=scripted.url, auth_test=scripted.url)
    auth = {
        "type": "oauth2",
        "clientId": "c",
        "clientSecret": "secret-1",
        "tokenEndpoint": "http://auth.test/oauth/token",
        "scopes": ["crm:read"],
    }
    policy = {"maxRetries": 2, "retryOnStatusCodes": [403]}
    result = await executor.execute(http_step(authentication=auth, retryPolicy=policy), {})
    assert result.outcome == "auth_error" and result.status == 403
    assert scripted.count("/x") == 1
    token_call = next(s for s in scripted.seen if s.path == "/oauth/token")
    assert token_call.headers["authorization"].startswith("Basic ")
    assert b"grant_type=client_credentials" in token_call.body
    assert next(s for s in scripted.seen if s.path == "/x").headers["authorization"] == "Bearer t"


async def test_breaker_opens_on_the_wire_and_the_fourth_caller_sends_nothing(
    wire: ExecutorContext, scripted: ScriptedServer
) -> None:
    scripted.script("/x", WireReply(503, delay=0.02))
    executor = routed(wire, api_test=scripted.url)
    step = http_step(circuitBreaker={"key": "crm", "failureThreshold": 3, "cooldownMs": 60_000})

    async def caller(delay: float):  # type: ignore[no-untyped-def]
        await asyncio.sleep(delay)
        return await executor.execute(step, {})

    results = await asyncio.gather(*(caller(i * 0.2) for i in range(4)))
    assert [r.outcome for r in results] == ["http_error"] * 3 + ["circuit_open"]
    assert scripted.count("/x") == 3


async def test_connection_refused(wire: ExecutorContext, refused_url: str) -> None:
    executor = routed(wire, api_test=refused_url)
    result = await executor.execute(http_step(retryPolicy={"maxRetries": 1, "backoff": "none"}), {})
    assert result.outcome == "connection_error" and result.error_code == "ECONNREFUSED"
    assert result.variables["http_attempts"] == 2


async def test_reset_mid_response(wire: ExecutorContext, resetter: str) -> None:
    executor = routed(wire, api_test=resetter)
    result = await executor.execute(http_step(), {})
    assert result.outcome == "connection_error"


async def test_empty_array_and_cap_and_malformed_over_the_wire(
    wire: ExecutorContext, scripted: ScriptedServer
) -> None:
    scripted.script("/empty", WireReply(200, {"status": "ok", "data": []}))
    scripted.script("/big", WireReply(200, {"data": "x" * 40_000}))
    scripted.script("/bad", WireReply(200, raw=b"{oops"))
    executor = routed(wire, api_test=scripted.url)
    mapping = {"profile": "$.data[0]", "s": "$.status"}
    empty = await executor.execute(
        http_step(url="http://api.test/empty", responseMapping=mapping), {}
    )
    assert empty.outcome == "success" and empty.variables["profile"] is None
    big = await executor.execute(http_step(url="http://api.test/big"), {})
    assert big.outcome == "too_large"
    bad = await executor.execute(
        http_step(
            url="http://api.test/bad", responseMapping=mapping, defaultResponse={"status": "d"}
        ),
        {},
    )
    assert bad.variables["s"] == "d"


async def test_dns_stall_consumes_the_real_deadline(
    wire: ExecutorContext, scripted: ScriptedServer
) -> None:
    scripted.script("/x", WireReply(200, {}))
    executor = routed(wire, api_test=scripted.url)
    wire.resolver.set_fault("api.test", DnsFault(kind="stall", stall_ms=5000))  # type: ignore[attr-defined]
    start = time.monotonic()
    result = await executor.execute(http_step(timeout=300), {})
    elapsed = (time.monotonic() - start) * 1000
    assert result.outcome == "timeout" and scripted.count("/x") == 0
    assert 300 <= elapsed < 300 + SLACK_MS


async def test_retry_after_on_the_wire(wire: ExecutorContext, scripted: ScriptedServer) -> None:
    scripted.script(
        "/x", WireReply(429, {"error": "rate"}, headers={"Retry-After": "1"}), WireReply(200, {})
    )
    executor = routed(wire, api_test=scripted.url)
    start = time.monotonic()
    policy = {"maxRetries": 1, "retryOnStatusCodes": [429], "maxDelayMs": 2000}
    result = await executor.execute(http_step(retryPolicy=policy), {})
    elapsed = (time.monotonic() - start) * 1000
    assert result.outcome == "success"
    assert 1000 <= elapsed < 1000 + SLACK_MS


async def test_api_key_and_body_on_the_wire(
    wire: ExecutorContext, scripted: ScriptedServer
) -> None:
    scripted.script("/v1/tickets", WireReply(201, {"id": "T1"}))
    executor = routed(wire, api_test=scripted.url)
    step = http_step(
        url="http://api.test/v1/tickets",
        method="POST",
        body={"phone": "{{p}}"},
        authentication={"type": "apiKey", "headerName": "X-API-Key", "headerValue": "{{k}}"},
        responseMapping={"ticket_id": "$.id"},
    )
    result = await executor.execute(step, {"p": "+14155552671", "k": "key-abcdef"})
    assert result.variables["ticket_id"] == "T1"
    seen = scripted.seen[0]
    assert seen.headers["x-api-key"] == "key-abcdef"
    assert seen.body == b'{"phone": "+14155552671"}'
    assert seen.headers["host"] == "api.test" or seen.headers["host"].startswith("127.0.0.1")


@pytest.mark.parametrize("kind,code", [("nxdomain", "NXDOMAIN"), ("servfail", "SERVFAIL")])
async def test_dns_failures_on_the_wire(
    wire: ExecutorContext, scripted: ScriptedServer, kind: str, code: str
) -> None:
    scripted.script("/x", WireReply(200, {}))
    executor = routed(wire, api_test=scripted.url)
    wire.resolver.set_fault("api.test", DnsFault(kind=kind))  # type: ignore[attr-defined, arg-type]
    result = await executor.execute(http_step(), {})
    assert result.outcome == "dns_error" and result.error_code == code
    assert scripted.count("/x") == 0


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_missing_timeout_waits_the_30_second_platform_default(
    wire: ExecutorContext, black_hole: str
) -> None:
    executor = routed(wire, api_test=black_hole)
    start = time.monotonic()
    result = await executor.execute(http_step(timeout=None), {})
    elapsed = (time.monotonic() - start) * 1000
    assert result.outcome == "timeout"
    assert 30_000 <= elapsed < 30_000 + SLACK_MS
