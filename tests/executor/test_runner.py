"""The flow runner on the bundled flows, in-process on a virtual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from harness.executor.runner import FlowRunner
from harness.executor.timeline import Caller
from harness.flow.loader import load_flow_set
from tests.fixtures.flows import HARDENED, SEED, flow_set
from tests.fixtures.inprocess import Env, Reply, make_env, token_reply

HOSTS = {"api.crm-provider.com", "auth.crm-provider.com", "api.service-provider.com"}
ACCOUNT = {
    "id": "ACC-1",
    "phone": "+14155552671",
    "attributes": {"loyalty_tier": "PLATINUM", "support_tickets": 2},
}
SECRETS = {"oauth_client_secret": "client-secret-1", "api_key_variable": "api-key-1"}
CALLER = Caller(dtmf=("4155552671#",), call_id="call-1")


def crm(*replies: Reply) -> dict[str, list[Reply]]:
    return {
        "/v2/accounts": list(replies),
        "/oauth/token": [token_reply()],
        "/v1/tickets": [Reply(201, {"id": "T-1", "case_number": "CASE-9", "metadata": {}})],
    }


@pytest.fixture
async def envs() -> AsyncIterator[list[Env]]:
    made: list[Env] = []
    yield made
    for env in made:
        await env.ctx.aclose()


async def run(envs: list[Env], folder, routes, caller: Caller = CALLER):  # type: ignore[no-untyped-def]
    env = make_env(routes)
    for host in HOSTS:
        env.ctx.resolver._hosts[host] = "127.0.0.1"  # type: ignore[attr-defined]
    envs.append(env)
    runner = FlowRunner(load_flow_set(folder), env.ctx)
    await runner.run_jobs(SECRETS)
    return await runner.run_call("customer-lookup-ivr", caller, SECRETS), env


@pytest.mark.parametrize(
    "reply",
    [Reply(403, {"error": "insufficient_scope"}), Reply(hang=True), Reply(429), Reply(202, {})],
    ids=["403", "timeout", "429", "202"],
)
async def test_seed_error_router_sends_failures_to_process_success(envs, reply: Reply) -> None:
    call, _ = await run(envs, SEED, crm(reply))
    assert "process-success" in call.steps()


@pytest.mark.parametrize(
    "reply,marker",
    [
        (Reply(403, {"error": "insufficient_scope"}), "mark-auth-failure"),
        (Reply(hang=True), "mark-unavailable"),
        (Reply(429), "mark-unavailable"),
        (Reply(503), "mark-unavailable"),
        (Reply(404), "mark-no-match"),
        (Reply(200, {"status": "ok", "data": []}), "mark-no-match"),
    ],
    ids=["403", "timeout", "429", "503", "404", "empty"],
)
async def test_hardened_router_names_every_failure(envs, reply: Reply, marker: str) -> None:
    call, _ = await run(envs, HARDENED, crm(reply))
    assert "process-success" not in call.steps()
    assert marker in call.steps()
    assert call.outcome == "transfer:agent-queue"


async def test_hardened_happy_path_creates_a_ticket_and_transfers(envs) -> None:
    call, env = await run(envs, HARDENED, crm(Reply(200, {"status": "ok", "data": [ACCOUNT]})))
    assert call.outcome == "transfer:agent-queue"
    assert call.variables["case_number"] == "CASE-9"
    assert "play-case-number" in call.steps()
    sent = [r for r in env.script.requests if r.url.path == "/v2/accounts"][0]
    assert sent.url.params["phone"] == "+14155552671"  # encoded, so '+' survives
    assert sent.headers["authorization"] == "Bearer tok-1"  # cached by the token job
    ticket = [r for r in env.script.requests if r.url.path == "/v1/tickets"][0]
    assert ticket.headers["idempotency-key"] == "call-1"
    assert b'"priority": "HIGH"' in ticket.content


async def test_empty_array_maps_to_null_and_follows_no_match(envs) -> None:
    call, _ = await run(envs, HARDENED, crm(Reply(200, {"status": "ok", "data": []})))
    assert call.variables["customer_profile"] is None
    assert call.variables["lookup_result"] == "no_match"
    assert "no-match-prompt" in call.steps()


async def test_seed_validates_raw_dtmf_so_every_number_is_invalid(envs) -> None:
    call, env = await run(envs, SEED, crm(Reply(200, {"status": "ok", "data": []})))
    assert call.variables["formatted_phone"] == "+14155552671INVALID"
    sent = [r for r in env.script.requests if r.url.path == "/v2/accounts"][0]
    assert sent.url.params["phone"] == " 14155552671INVALID"  # raw '+' decoded as a space


async def test_seed_empty_array_ends_in_the_error_tone(envs) -> None:
    routes = crm(Reply(200, {"status": "ok", "data": []}))
    routes["/v1/tickets"] = [Reply(400, {"error": "account_id is required"})]
    call, _ = await run(envs, SEED, routes)
    assert call.outcome == "dead_end"
    assert call.terminal_step == "confirm-ticket"


async def test_quote_in_dtmf_breaks_the_seed_transform_expression(envs) -> None:
    call, _ = await run(envs, SEED, crm(Reply(200, {})), Caller(dtmf=("41'5",), call_id="c"))
    assert call.outcome == "error"
    assert call.terminal_step == "transform-payload"


async def test_hardened_refreshes_a_rejected_token_once_behind_a_prompt(envs) -> None:
    routes = crm(
        Reply(401, {"error": "token_expired"}), Reply(200, {"status": "ok", "data": [ACCOUNT]})
    )
    call, env = await run(envs, HARDENED, routes)
    steps = call.steps()
    assert steps.count("http-customer-lookup") == 2
    assert steps.index("reconnect-prompt") < steps.index("refresh-token")
    assert call.variables["case_number"] == "CASE-9"
    assert env.script.count("/oauth/token") == 2  # the job, then one refresh


async def test_token_outage_does_not_touch_callers_with_a_cached_token(envs) -> None:
    routes = crm(Reply(200, {"status": "ok", "data": [ACCOUNT]}))
    call, env = await run(envs, HARDENED, routes)
    env.script.reply("/oauth/token", [Reply(503)])
    runner = FlowRunner(load_flow_set(HARDENED), env.ctx)
    second = await runner.run_call(
        "customer-lookup-ivr", Caller(dtmf=("4155552671#",), call_id="c2"), SECRETS
    )
    assert second.variables["case_number"] == "CASE-9"
    assert env.script.count("/oauth/token") == 1


async def test_dead_air_is_the_silent_time_of_the_call(envs) -> None:
    call, _ = await run(envs, HARDENED, crm(Reply(200, {"status": "ok", "data": []}, delay=1.2)))
    # The lookup is the only silent stretch longer than a second.
    assert call.max_dead_air_ms == pytest.approx(1200)
    assert call.dead_air_ms >= 1200


def _doc(steps):  # type: ignore[no-untyped-def]
    return {"id": "main", "name": "m", "flowType": "IVR", "steps": steps}


async def test_condition_without_a_match_is_a_dead_end_not_a_crash() -> None:
    env = make_env({})
    flows = flow_set(
        _doc(
            [
                {
                    "id": "c",
                    "type": "Condition",
                    "configuration": {"conditions": [{"expression": "false", "nextStepId": "h"}]},
                },
                {"id": "h", "type": "Hangup", "configuration": {}},
            ]
        )
    )
    call = await FlowRunner(flows, env.ctx).run_call("main", Caller())
    assert call.outcome == "dead_end" and call.terminal_step == "c"
    await env.ctx.aclose()


async def test_dangling_next_step_is_a_dead_end() -> None:
    env = make_env({})
    flows = flow_set(
        _doc(
            [
                {
                    "id": "p",
                    "type": "Play",
                    "configuration": {"prompt": "hi", "durationMs": 10},
                    "nextStepId": "nowhere",
                }
            ]
        )
    )
    call = await FlowRunner(flows, env.ctx).run_call("main", Caller())
    assert call.outcome == "dead_end" and "nowhere" in call.reason
    await env.ctx.aclose()


async def test_subflow_error_returns_to_parent_with_flag() -> None:
    env = make_env({})
    child = {
        "id": "child",
        "name": "c",
        "flowType": "SubFlow",
        "steps": [
            {
                "id": "boom",
                "type": "DataAPI",
                "configuration": {"operation": "evaluate", "expression": "1 +"},
                "nextStepId": "r",
            },
            {"id": "r", "type": "Return", "configuration": {}},
        ],
    }
    main = _doc(
        [
            {
                "id": "s",
                "type": "SubFlow",
                "configuration": {"flowId": "child", "returnVariables": ["x"]},
                "nextStepId": "route",
            },
            {
                "id": "route",
                "type": "Condition",
                "configuration": {
                    "conditions": [{"expression": "subflow_error", "nextStepId": "vm"}],
                    "defaultStepId": "h",
                },
            },
            {"id": "vm", "type": "Voicemail", "configuration": {}},
            {"id": "h", "type": "Hangup", "configuration": {}},
        ]
    )
    call = await FlowRunner(flow_set(main, child), env.ctx).run_call("main", Caller())
    assert call.outcome == "voicemail"
    assert call.variables["subflow_error"] is True and call.variables["x"] is None
    await env.ctx.aclose()


async def test_data_storage_operations_and_hand_built_breaker() -> None:
    env = make_env({})
    main = _doc(
        [
            {
                "id": "inc",
                "type": "DataAPI",
                "configuration": {"operation": "increment", "key": "fails", "resultVariable": "n"},
                "nextStepId": "inc2",
            },
            {
                "id": "inc2",
                "type": "DataAPI",
                "configuration": {"operation": "increment", "key": "fails", "resultVariable": "n"},
                "nextStepId": "stamp",
            },
            {
                "id": "stamp",
                "type": "DataAPI",
                "configuration": {
                    "operation": "set",
                    "key": "opened",
                    "value": "{{currentTimestamp()}}",
                },
                "nextStepId": "get",
            },
            {
                "id": "get",
                "type": "DataAPI",
                "configuration": {"operation": "get", "key": "opened", "resultVariable": "opened"},
                "nextStepId": "check",
            },
            {
                "id": "check",
                "type": "Condition",
                "configuration": {
                    "conditions": [
                        {
                            "expression": "n >= 2 && currentTimestamp() - opened < 30000",
                            "nextStepId": "vm",
                        }
                    ],
                    "defaultStepId": "h",
                },
            },
            {"id": "vm", "type": "Voicemail", "configuration": {}},
            {"id": "h", "type": "Hangup", "configuration": {}},
        ]
    )
    call = await FlowRunner(flow_set(main), env.ctx).run_call("main", Caller())
    assert call.outcome == "voicemail"
    assert env.ctx.storage.get("fails") == 2
    await env.ctx.aclose()


async def test_wait_step_returns_when_the_key_arrives_and_plays_progress() -> None:
    env = make_env({})
    main = _doc(
        [
            {
                "id": "w",
                "type": "Wait",
                "configuration": {
                    "key": "job:1",
                    "maxWaitMs": 120000,
                    "progressPromptEveryMs": 15000,
                    "resultVariable": "cb",
                    "onTimeoutStepId": "vm",
                },
                "nextStepId": "h",
            },
            {"id": "vm", "type": "Voicemail", "configuration": {}},
            {"id": "h", "type": "Hangup", "configuration": {}},
        ]
    )
    runner = FlowRunner(flow_set(main), env.ctx)

    async def callback() -> None:
        await env.clock.sleep(40)
        env.ctx.storage.set("job:1", {"status": "completed"})

    import asyncio

    call, _ = await asyncio.gather(runner.run_call("main", Caller()), callback())
    assert call.outcome == "hangup"
    assert call.variables["cb"] == {"status": "completed"}
    assert call.segments[0].detail["progress_prompts"] == 2
    assert call.duration_ms == pytest.approx(40_000)
    timed_out = await runner.run_call("main", Caller(call_id="c2"))
    assert timed_out.outcome == "hangup"  # key already present from the first call
    env.ctx.storage.delete("job:1")
    third = await runner.run_call("main", Caller(call_id="c3"))
    assert third.outcome == "voicemail" and third.duration_ms == pytest.approx(120_000)
    await env.ctx.aclose()


@pytest.mark.parametrize(("keys", "ends"), [("1234#", "short"), ("12345678#", "ok")])
async def test_fewer_than_min_digits_leave_the_variable_empty(keys: str, ends: str) -> None:
    env = make_env({})
    collect = {"variable": "d", "minDigits": 8, "maxDigits": 8, "terminator": "#"}
    route = {"conditions": [{"expression": "d == ''", "nextStepId": "short"}],
             "defaultStepId": "ok"}  # fmt: skip
    flows = flow_set(
        _doc(
            [
                {"id": "c", "type": "CollectDigits", "configuration": collect, "nextStepId": "r"},
                {"id": "r", "type": "Condition", "configuration": route},
                {"id": "short", "type": "Hangup", "configuration": {}},
                {"id": "ok", "type": "Hangup", "configuration": {}},
            ]
        )
    )
    call = await FlowRunner(flows, env.ctx).run_call("main", Caller(dtmf=(keys,)))
    assert call.terminal_step == ends
    await env.ctx.aclose()
