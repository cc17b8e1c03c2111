"""Every executor rule of SPEC section 4, in-process, on a virtual clock."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from harness.errors import ConfigError, UnsafeTargetError
from harness.executor.resolver import DnsFault
from harness.flow.profile import PlatformProfile
from tests.fixtures.flows import http_step
from tests.fixtures.inprocess import Env, Reply, make_env, token_reply

RETRY = {"maxRetries": 2, "backoff": "exponential", "retryOnStatusCodes": [502, 503, 504]}
OAUTH = {
    "type": "oauth2",
    "clientId": "ivr-client",
    "clientSecret": "s3cret-value",
    "tokenEndpoint": "http://auth.test/oauth/token",
    "scopes": ["crm:read"],
}


@pytest.fixture
async def closing():
    envs: list[Env] = []
    yield envs.append
    for env in envs:
        await env.ctx.aclose()


def env_of(closing, routes, **kw) -> Env:  # type: ignore[no-untyped-def]
    env = make_env(routes, **kw)
    closing(env)
    return env


async def test_503_503_200_succeeds_on_attempt_3_with_exponential_backoff(closing) -> None:
    env = env_of(closing, {"/x": [Reply(503), Reply(503), Reply(200, {"ok": 1})]})
    result = await env.executor.execute(http_step(retryPolicy=RETRY), {})
    assert result.outcome == "success"
    assert result.variables["http_attempts"] == 3
    assert [e["wait_ms"] for e in env.events("backoff")] == [200, 400]
    assert result.elapsed_ms == pytest.approx(600)


async def test_fixed_and_none_backoff(closing) -> None:
    env = env_of(closing, {"/x": [Reply(503)]})
    fixed = {**RETRY, "backoff": "fixed", "initialDelayMs": 250}
    await env.executor.execute(http_step(retryPolicy=fixed), {})
    assert [e["wait_ms"] for e in env.events("backoff")] == [250, 250]
    env2 = env_of(closing, {"/x": [Reply(503)]})
    await env2.executor.execute(http_step(retryPolicy={**RETRY, "backoff": "none"}), {})
    assert [e["wait_ms"] for e in env2.events("backoff")] == [0, 0]


async def test_exponential_backoff_is_capped_at_max_delay(closing) -> None:
    env = env_of(closing, {"/x": [Reply(503)]})
    policy = {**RETRY, "maxRetries": 5, "initialDelayMs": 300, "maxDelayMs": 1000}
    await env.executor.execute(http_step(retryPolicy=policy), {})
    assert [e["wait_ms"] for e in env.events("backoff")] == [300, 600, 1000, 1000, 1000]


async def test_full_jitter_stays_under_the_backoff_and_is_seeded(closing) -> None:
    waits = []
    for _ in range(2):
        env = env_of(closing, {"/x": [Reply(503)]}, seed=7)
        await env.executor.execute(http_step(retryPolicy={**RETRY, "jitter": "full"}), {})
        waits.append([e["wait_ms"] for e in env.events("backoff")])
    assert waits[0] == waits[1]
    assert 0 <= waits[0][0] <= 200 and 0 <= waits[0][1] <= 400


async def test_status_not_in_retry_list_is_not_retried(closing) -> None:
    env = env_of(closing, {"/x": [Reply(500)]})
    result = await env.executor.execute(http_step(retryPolicy=RETRY), {})
    assert result.outcome == "http_error" and result.status == 500
    assert env.script.count("/x") == 1


async def test_attempt_ends_exactly_at_its_timeout(closing) -> None:
    env = env_of(closing, {"/x": [Reply(hang=True)]})
    result = await env.executor.execute(http_step(timeout=1500), {})
    assert result.outcome == "timeout"
    assert result.status == 0
    assert result.elapsed_ms == pytest.approx(1500)


async def test_missing_timeout_means_the_30_second_platform_default(closing) -> None:
    env = env_of(closing, {"/x": [Reply(hang=True)]})
    result = await env.executor.execute(http_step(timeout=None), {})
    assert result.elapsed_ms == pytest.approx(30_000)


def test_timeout_over_the_platform_maximum_is_a_config_error() -> None:
    env = make_env({})
    with pytest.raises(ConfigError, match="exceeds the platform maximum of 90000 ms"):
        asyncio.run(env.executor.execute(http_step(timeout=90_001), {}))


async def test_timeouts_are_retried_unless_retry_on_timeout_is_false(closing) -> None:
    env = env_of(closing, {"/x": [Reply(hang=True)]})
    result = await env.executor.execute(http_step(timeout=1000, retryPolicy=RETRY), {})
    assert result.variables["http_attempts"] == 3
    assert result.elapsed_ms == pytest.approx(3000 + 200 + 400)
    env2 = env_of(closing, {"/x": [Reply(hang=True)]})
    policy = {**RETRY, "retryOnTimeout": False}
    result2 = await env2.executor.execute(http_step(timeout=1000, retryPolicy=policy), {})
    assert result2.variables["http_attempts"] == 1


async def test_slow_drip_body_cannot_outlive_the_timeout(closing) -> None:
    # One byte every 100 ms for 10 s; per-phase read timeouts would never fire.
    env = env_of(closing, {"/x": [Reply(raw=b"x" * 100, drip_every=0.1)]})
    result = await env.executor.execute(http_step(timeout=1000), {})
    assert result.outcome == "timeout"
    assert result.elapsed_ms == pytest.approx(1000)


async def test_connection_errors_are_retried_and_reported(closing) -> None:
    env = env_of(closing, {"/x": [Reply(error=httpx.ConnectError)]})
    result = await env.executor.execute(http_step(retryPolicy=RETRY), {})
    assert result.outcome == "connection_error"
    assert result.variables["http_status_code"] == 0
    assert result.variables["http_attempts"] == 3


async def test_read_error_mid_response_is_a_connection_error(closing) -> None:
    env = env_of(closing, {"/x": [Reply(error=httpx.ReadError)]})
    result = await env.executor.execute(http_step(), {})
    assert result.outcome == "connection_error"
    assert result.error_code == "ECONNRESET"


async def test_retry_after_is_honoured_when_it_fits_under_max_delay(closing) -> None:
    env = env_of(closing, {"/x": [Reply(429, headers={"Retry-After": "1"}), Reply(200, {})]})
    policy = {"maxRetries": 1, "retryOnStatusCodes": [429], "maxDelayMs": 2000}
    result = await env.executor.execute(http_step(retryPolicy=policy), {})
    assert result.outcome == "success"
    assert [e["wait_ms"] for e in env.events("backoff")] == [1000]


async def test_retry_after_beyond_max_delay_gives_up(closing) -> None:
    env = env_of(closing, {"/x": [Reply(503, headers={"Retry-After": "5"}), Reply(200, {})]})
    result = await env.executor.execute(http_step(retryPolicy=RETRY), {})
    assert result.outcome == "http_error"
    assert env.script.count("/x") == 1
    assert result.variables["http_error_code"] == "retry_after_exceeds_max_delay"


async def test_403_insufficient_scope_makes_exactly_one_request(closing) -> None:
    env = env_of(
        closing,
        {"/x": [Reply(403, {"error": "insufficient_scope"})], "/oauth/token": [token_reply()]},
    )
    policy = {**RETRY, "retryOnStatusCodes": [403, 503]}
    result = await env.executor.execute(http_step(retryPolicy=policy, authentication=OAUTH), {})
    assert result.outcome == "auth_error" and result.status == 403
    assert result.error_code == "insufficient_scope"
    assert env.script.count("/x") == 1


async def test_401_token_expired_invalidates_the_cache_and_retries_once(closing) -> None:
    env = env_of(
        closing,
        {
            "/x": [Reply(401, {"error": "token_expired"}), Reply(200, {"ok": True})],
            "/oauth/token": [token_reply("old"), token_reply("new")],
        },
    )
    result = await env.executor.execute(http_step(authentication=OAUTH), {})
    assert result.outcome == "success"
    assert env.script.count("/oauth/token") == 2
    assert [r.headers["authorization"] for r in env.script.requests if r.url.path == "/x"] == [
        "Bearer old",
        "Bearer new",
    ]


async def test_401_twice_is_an_auth_error_after_one_refresh(closing) -> None:
    env = env_of(
        closing,
        {"/x": [Reply(401, {"error": "invalid_token"})], "/oauth/token": [token_reply()]},
    )
    result = await env.executor.execute(http_step(authentication=OAUTH), {})
    assert result.outcome == "auth_error"
    assert env.script.count("/x") == 2


async def test_token_is_cached_and_only_the_first_call_fetches_inline(closing) -> None:
    env = env_of(closing, {"/x": [Reply(200, {})], "/oauth/token": [token_reply()]})
    first = await env.executor.execute(http_step(authentication=OAUTH), {})
    second = await env.executor.execute(http_step(authentication=OAUTH), {})
    assert first.inline_token_fetch and not second.inline_token_fetch
    assert env.script.count("/oauth/token") == 1
    assert [e["inline"] for e in env.events("token_fetch")] == [True]


async def test_concurrent_callers_share_one_token_fetch(closing) -> None:
    env = env_of(
        closing,
        {"/x": [Reply(200, {})], "/oauth/token": [Reply(body={"access_token": "t"}, delay=0.2)]},
    )
    step = http_step(authentication=OAUTH)
    await asyncio.gather(*(env.executor.execute(step, {}) for _ in range(5)))
    assert env.script.count("/oauth/token") == 1


async def test_token_near_expiry_is_refreshed_off_the_caller_path(closing) -> None:
    env = env_of(
        closing,
        {
            "/x": [Reply(200, {})],
            "/oauth/token": [token_reply("a", 120), Reply(body={"access_token": "b"}, delay=0.5)],
        },
    )
    step = http_step(authentication=OAUTH)
    await env.executor.execute(step, {})
    env.clock.advance(61)  # inside the 60 s refresh-ahead window, still valid
    result = await env.executor.execute(step, {})
    assert not result.inline_token_fetch
    assert result.elapsed_ms == pytest.approx(0)  # the caller did not wait for the refresh
    await env.clock.sleep(1)
    assert [e["inline"] for e in env.events("token_fetch")] == [True, False]
    third = await env.executor.execute(step, {})
    assert env.script.requests[-1].headers["authorization"] == "Bearer b"
    assert not third.inline_token_fetch


async def test_token_endpoint_down_is_an_auth_error(closing) -> None:
    env = env_of(closing, {"/x": [Reply(200, {})], "/oauth/token": [Reply(503)]})
    result = await env.executor.execute(http_step(authentication=OAUTH), {})
    assert result.outcome == "auth_error"
    assert result.error_code == "token_endpoint_http_503"
    assert env.script.count("/x") == 0


async def test_api_key_and_basic_auth_headers_and_secrets_never_logged(closing) -> None:
    env = env_of(closing, {"/x": [Reply(200, {})]})
    api_key = {"type": "apiKey", "headerName": "X-API-Key", "headerValue": "{{api_key}}"}
    await env.executor.execute(http_step(authentication=api_key), {"api_key": "key-12345"})
    basic = {"type": "basic", "username": "ivr", "password": "{{pw}}"}
    await env.executor.execute(http_step(authentication=basic), {"pw": "pa55word"})
    oauth = await env.executor.execute(
        http_step(authentication=OAUTH, url="http://api.test/x?k=s3cret-value"), {}
    )
    del oauth
    sent = env.script.requests
    assert sent[0].headers["x-api-key"] == "key-12345"
    assert sent[1].headers["authorization"].startswith("Basic ")
    log = "\n".join(e.to_json() for e in env.ctx.events)
    for secret in ("key-12345", "pa55word", "s3cret-value", sent[1].headers["authorization"][6:]):
        assert secret not in log


async def test_response_mapping_and_null_safe_empty_array(closing) -> None:
    body = {"status": "ok", "data": []}
    env = env_of(closing, {"/x": [Reply(200, body)]})
    mapping = {"profile": "$.data[0]", "status": "$.status", "tier": "$.data[0].attributes.tier"}
    result = await env.executor.execute(http_step(responseMapping=mapping), {})
    assert result.variables["profile"] is None
    assert result.variables["tier"] is None
    assert result.variables["status"] == "ok"


async def test_default_response_stands_in_for_an_empty_or_malformed_body(closing) -> None:
    env = env_of(closing, {"/x": [Reply(200, raw=b"{not json"), Reply(200, raw=b"")]})
    step = http_step(responseMapping={"s": "$.status"}, defaultResponse={"status": "default"})
    assert (await env.executor.execute(step, {})).variables["s"] == "default"
    assert (await env.executor.execute(step, {})).variables["s"] == "default"


async def test_body_over_the_32kb_cap_is_an_outcome(closing) -> None:
    big = {"data": "x" * 40_000}
    env = env_of(closing, {"/x": [Reply(200, big)]})
    result = await env.executor.execute(http_step(responseMapping={"d": "$.data"}), {})
    assert result.outcome == "too_large"
    assert result.variables["d"] is None


async def test_202_is_accepted_with_location(closing) -> None:
    env = env_of(closing, {"/x": [Reply(202, {"job_id": "j1"}, headers={"Location": "/jobs/j1"})]})
    result = await env.executor.execute(http_step(), {})
    assert result.outcome == "accepted"
    assert result.variables["http_location"] == "/jobs/j1"


async def test_templated_url_headers_and_body_are_rendered(closing) -> None:
    env = env_of(closing, {"/x": [Reply(200, {})]})
    step = http_step(
        url="http://api.test/x?phone={{encodeUriComponent(phone)}}",
        method="POST",
        headers={"X-Request-Id": "{{call}}"},
        body={"phone": "{{phone}}", "n": "{{n}}"},
    )
    await env.executor.execute(step, {"phone": "+1 415", "call": "c-1", "n": 3})
    sent = env.script.requests[0]
    assert sent.url.query == b"phone=%2B1%20415"
    assert sent.headers["x-request-id"] == "c-1"
    assert json.loads(sent.content) == {"phone": "+1 415", "n": 3}


async def test_string_body_is_substituted_textually_like_the_platform(closing) -> None:
    env = env_of(closing, {"/x": [Reply(200, {})]})
    step = http_step(method="POST", body='{"name": "{{name}}"}')
    await env.executor.execute(step, {"name": 'O"Brien'})
    with pytest.raises(ValueError):
        json.loads(env.script.requests[0].content)  # the injection the lint warns about


async def test_breaker_opens_after_three_503s_and_the_fourth_caller_skips(closing) -> None:
    env = env_of(closing, {"/x": [Reply(503, delay=0.05)]})
    step = http_step(circuitBreaker={"key": "crm", "failureThreshold": 3, "cooldownMs": 1000})

    async def caller(start: float):  # type: ignore[no-untyped-def]
        await env.clock.sleep(start)
        return await env.executor.execute(step, {})

    results = await asyncio.gather(*(caller(i * 0.1) for i in range(4)))
    assert [r.outcome for r in results] == ["http_error"] * 3 + ["circuit_open"]
    assert env.script.count("/x") == 3
    assert results[3].variables["http_attempts"] == 0
    transitions = [(e["old"], e["new"]) for e in env.events("breaker")]
    assert transitions == [("closed", "open")]


async def test_breaker_half_open_trial_then_closes(closing) -> None:
    env = env_of(closing, {"/x": [Reply(503), Reply(503), Reply(200, {})]})
    step = http_step(circuitBreaker={"key": "k", "failureThreshold": 2, "cooldownMs": 1000})
    await env.executor.execute(step, {})
    await env.executor.execute(step, {})
    env.clock.advance(0.999)
    assert (await env.executor.execute(step, {})).outcome == "circuit_open"
    env.clock.advance(0.001)
    assert (await env.executor.execute(step, {})).outcome == "success"
    transitions = [(e["old"], e["new"]) for e in env.events("breaker")]
    assert transitions == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


async def test_breaker_state_lives_in_data_storage_shared_by_steps(closing) -> None:
    env = env_of(closing, {"/x": [Reply(503)], "/y": [Reply(200, {})]})
    cb = {"key": "shared", "failureThreshold": 1, "cooldownMs": 1000}
    await env.executor.execute(http_step(circuitBreaker=cb), {})
    other = await env.executor.execute(
        http_step("y", url="http://api.test/y", circuitBreaker=cb), {}
    )
    assert other.outcome == "circuit_open"
    assert env.ctx.storage.get("cb:shared:state") == "open"


async def test_dns_stall_happens_inside_the_attempt_deadline(closing) -> None:
    env = env_of(closing, {"/x": [Reply(200, {})]})
    env.ctx.resolver.set_fault("api.test", DnsFault(kind="stall", stall_ms=3000))  # type: ignore[attr-defined]
    result = await env.executor.execute(http_step(timeout=2500), {})
    assert result.outcome == "timeout"
    assert result.elapsed_ms == pytest.approx(2500)
    env.ctx.resolver.set_fault("api.test", DnsFault(kind="stall", stall_ms=1000))  # type: ignore[attr-defined]
    ok = await env.executor.execute(http_step(timeout=2500), {})
    assert ok.outcome == "success" and ok.elapsed_ms == pytest.approx(1000)


@pytest.mark.parametrize("kind,code", [("nxdomain", "NXDOMAIN"), ("servfail", "SERVFAIL")])
async def test_dns_failures(closing, kind: str, code: str) -> None:
    env = env_of(closing, {"/x": [Reply(200, {})]})
    env.ctx.resolver.set_fault("api.test", DnsFault(kind=kind))  # type: ignore[attr-defined, arg-type]
    result = await env.executor.execute(http_step(), {})
    assert result.outcome == "dns_error" and result.error_code == code
    assert env.script.count("/x") == 0


async def test_requests_over_the_platform_slot_limit_are_queued(closing) -> None:
    env = env_of(
        closing,
        {"/x": [Reply(200, {}, delay=0.1)]},
        profile=PlatformProfile(max_concurrent_requests=2),
    )
    results = await asyncio.gather(*(env.executor.execute(http_step(), {}) for _ in range(4)))
    assert all(r.outcome == "success" for r in results)
    assert sorted(round(r.elapsed_ms) for r in results) == [100, 100, 200, 200]
    assert len(env.events("queued")) == 2


async def test_non_loopback_target_is_refused_before_any_traffic(closing) -> None:
    env = env_of(closing, {"/x": [Reply(200, {})]})
    env.ctx.resolver._hosts["api.test"] = "10.1.2.3"  # type: ignore[attr-defined]
    with pytest.raises(UnsafeTargetError):
        await env.executor.execute(http_step(), {})
    assert env.script.requests == []


async def test_every_attempt_is_an_audit_event_with_a_body_hash(closing) -> None:
    env = env_of(closing, {"/x": [Reply(503), Reply(200, {"a": 1})]})
    await env.executor.execute(http_step(retryPolicy=RETRY), {}, call_id="c1")
    ends = env.events("attempt_end")
    assert [e["status"] for e in ends] == [503, 200]
    assert len(ends[1]["body_sha256"]) == 64
    assert env.kinds()[0] == "step_start" and env.kinds()[-1] == "step_end"
    assert all(e.call_id == "c1" for e in env.ctx.events)
