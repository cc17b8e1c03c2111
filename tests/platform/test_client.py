"""The Flow API client against the stand-in over real sockets: retries, deadlines, read-backs.

Timing bounds are physical below (a 1 s Retry-After never ends early, a 0.3 s deadline
never fires early) with room for CI noise above.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.backends.flowapi import FlowApiStandIn
from harness.errors import UnsafeTargetError
from harness.events import EventLog
from harness.platform.client import FlowApi
from harness.platform.credentials import ApiSettings
from harness.platform.errors import (
    CredentialsRefused,
    FlowApiError,
    ScopeRefused,
    VersionConflict,
)
from harness.platform.retry import RetryPolicy
from tests.fixtures.flowapi import CLIENT, FAST, SECRET, api_for, small_tenant, standin

__all__ = ["standin"]

NOISE_S = 1.0


async def test_get_rides_out_a_503_storm_with_backoff(standin: FlowApiStandIn) -> None:
    standin.faults.add({"kind": "status", "status": 503, "times": 3, "method": "GET"})
    events = EventLog()
    async with api_for(standin.url, events=events) as api:
        ivr = await api.get("ivr")
    assert ivr is not None and ivr.version == 4 and ivr.text == standin.store.flows["ivr"].text
    assert [r.status for r in standin.requests("GET")] == [503, 503, 503, 200]
    waits = [e.data["seconds"] for e in events.of_kind("flowapi_wait")]
    assert waits == [0.01, 0.02, 0.04]  # doubling from backoff_s, capped at max_backoff_s


async def test_a_storm_longer_than_the_attempts_gives_up_naming_the_last_answer(
    standin: FlowApiStandIn,
) -> None:
    standin.faults.add({"kind": "status", "status": 503, "method": "GET"})
    async with api_for(standin.url) as api:
        with pytest.raises(FlowApiError, match="GET ivr: gave up after 5 attempts.*HTTP 503"):
            await api.get("ivr")
    assert len(standin.requests("GET")) == 5


async def test_retry_after_replaces_the_backoff_and_is_never_cut_short(
    standin: FlowApiStandIn,
) -> None:
    standin.faults.add({"kind": "rate_limit", "retry_after": 1, "times": 1, "method": "GET"})
    async with api_for(standin.url) as api:
        await api.require(("api:read",))
        started = time.monotonic()
        assert await api.get("ivr") is not None
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 1.0 + NOISE_S


async def test_a_retry_after_past_the_budget_gives_up_at_once(standin: FlowApiStandIn) -> None:
    standin.faults.add({"kind": "rate_limit", "retry_after": 60, "method": "GET"})
    async with api_for(standin.url) as api:
        await api.require(("api:read",))
        started = time.monotonic()
        with pytest.raises(FlowApiError, match="waiting 60 s more would pass the 5 s retry budget"):
            await api.get("ivr")
        assert time.monotonic() - started < NOISE_S


async def test_one_deadline_per_request_covers_a_dribbled_body(standin: FlowApiStandIn) -> None:
    standin.faults.add(
        {"kind": "dribble", "bytes_per_chunk": 1, "interval_ms": 200, "method": "GET"}
    )
    policy = RetryPolicy(timeout_s=0.3, attempts=1)
    async with api_for(standin.url, policy=policy) as api:
        await api.require(("api:read",))
        started = time.monotonic()
        with pytest.raises(FlowApiError, match=r"gave up after 1 attempts, the last: timeout"):
            await api.get("ivr")
        elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 0.3 + NOISE_S


async def test_a_lost_put_answer_is_read_back_not_repeated(standin: FlowApiStandIn) -> None:
    """The server applies the PUT, then its answer drips too slowly: the deadline fires."""
    standin.faults.add(
        {"kind": "dribble", "bytes_per_chunk": 50, "interval_ms": 2500, "method": "PUT", "times": 1}
    )
    events = EventLog()
    policy = RetryPolicy(timeout_s=1.0, attempts=3, backoff_s=0.01)
    async with api_for(standin.url, policy=policy, events=events) as api:
        before = await api.get("greeting")
        assert before is not None
        written = await api.put("greeting", {**before.document, "version": 5}, expect=before)
    assert written.version == 5
    # The server logs the faulted PUT once its drip notices the client gone.
    for _ in range(50):
        if standin.requests("PUT"):
            break
        await asyncio.sleep(0.1)
    assert len(standin.requests("PUT")) == 1  # read back, never sent twice
    (back,) = events.of_kind("read_back")
    assert back.data["after"].startswith("timeout") and "version 5" in back.data["found"]


async def test_a_put_refused_with_503_is_read_back_then_sent_again(
    standin: FlowApiStandIn,
) -> None:
    standin.faults.add({"kind": "status", "status": 503, "times": 2, "method": "PUT"})
    async with api_for(standin.url) as api:
        before = await api.get("greeting")
        assert before is not None
        written = await api.put("greeting", {**before.document, "version": 5}, expect=before)
    assert written.version == 5
    assert [r.status for r in standin.requests("PUT")] == [503, 503, 200]
    assert len(standin.requests("GET")) == 1 + 2  # the first read, then one per lost answer


async def test_a_put_over_a_changed_flow_is_a_conflict_and_writes_nothing(
    standin: FlowApiStandIn,
) -> None:
    async with api_for(standin.url) as api:
        before = await api.get("greeting")
        assert before is not None
        await api.put("greeting", {**before.document, "$comment": "someone"}, expect=before)
        meanwhile = standin.store.flows["greeting"].text
        with pytest.raises(VersionConflict) as caught:
            await api.put("greeting", {**before.document, "version": 5}, expect=before)
    assert caught.value.current is not None and caught.value.current.text == meanwhile
    assert standin.store.flows["greeting"].text == meanwhile


async def test_an_expired_token_is_renewed_once_and_the_request_repeated(
    standin: FlowApiStandIn,
) -> None:
    async with api_for(standin.url) as api:
        assert await api.get("ivr") is not None
        standin.store.expire_tokens()
        assert await api.get("lookup") is not None
    statuses = [r.status for r in standin.requests("GET")]
    assert statuses == [200, 401, 200]
    assert len(standin.requests("POST")) == 2  # two token fetches


async def test_a_missing_scope_is_named_before_anything_is_sent() -> None:
    grants = {CLIENT: ["api:read"]}
    async with FlowApiStandIn(clients={CLIENT: SECRET}, grants=grants) as standin:
        async with api_for(standin.url) as api:
            await api.require(("api:read",))
            with pytest.raises(ScopeRefused, match="lacks flow:edit") as caught:
                await api.require(("api:read", "flow:edit"))
        assert caught.value.scope == "flow:edit"
        assert standin.requests("PUT") == []


async def test_a_403_names_the_scope_and_is_never_retried(standin: FlowApiStandIn) -> None:
    body = {"error": "insufficient_scope", "error_description": "revoked", "scope": "api:read"}
    standin.faults.add({"kind": "status", "status": 403, "body": body, "method": "GET"})
    async with api_for(standin.url) as api:
        with pytest.raises(ScopeRefused) as caught:
            await api.get("ivr")
    assert caught.value.scope == "api:read"
    assert len(standin.requests("GET")) == 1


async def test_a_wrong_secret_is_refused_without_the_secret_in_the_message(
    standin: FlowApiStandIn,
) -> None:
    settings = ApiSettings(base_url=standin.url, client_id=CLIENT, client_secret="wrong-Secret")
    async with FlowApi(settings) as api:
        with pytest.raises(CredentialsRefused, match="refused client 'deployer'") as caught:
            await api.get("ivr")
    assert "wrong-Secret" not in str(caught.value)


async def test_an_unreachable_api_is_a_flow_api_error() -> None:
    async with FlowApiStandIn(clients={CLIENT: SECRET}, flows=small_tenant()) as standin:
        url = standin.url
    policy = RetryPolicy(timeout_s=1, attempts=2, backoff_s=0.01)
    async with api_for(url, policy=policy) as api:
        with pytest.raises(FlowApiError, match="connection refused"):
            await api.get("ivr")


def test_a_non_loopback_tenant_needs_explicit_permission() -> None:
    tenant = {"base_url": "https://acme.niceincontact.com", "client_id": CLIENT}
    with pytest.raises(UnsafeTargetError, match="refusing to talk to acme.niceincontact.com"):
        ApiSettings(**tenant, client_secret=SECRET)
    local = {"base_url": "http://127.0.0.1:1", "client_id": CLIENT, "client_secret": SECRET}
    with pytest.raises(UnsafeTargetError, match="--allow-non-loopback"):
        ApiSettings(**local, token_url="https://login.example.com/token")
    assert ApiSettings(**tenant, client_secret=SECRET, allow_non_loopback=True).token_endpoint == (
        "https://acme.niceincontact.com/auth/token"
    )


def test_fast_policy_is_what_the_tests_assume() -> None:
    assert (FAST.attempts, FAST.backoff_s, FAST.retry_budget_s) == (5, 0.01, 5)
