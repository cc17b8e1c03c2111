"""The real wire (aiohttp) against real sockets: what a backend sees and how failures are named.

The in-process layer scripts responses through httpx (`ScriptedWire`); these
tests show that the real wire sends the same request and names every broken
exchange with an outcome class, never an exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import pytest
import respx

from harness.clock import VirtualClock
from harness.executor.context import ExecutorContext
from harness.executor.http_step import HttpStepExecutor
from harness.executor.resolver import FaultyResolver
from harness.flow.profile import CXONE
from tests.fixtures.flows import http_step
from tests.fixtures.inprocess import TEST_HOSTS, ScriptedWire, routed_by
from tests.fixtures.servers import ScriptedServer, WireReply, routed

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def raw_server(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def answer(reply: bytes) -> tuple[asyncio.Server, str]:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()

    return await raw_server(handler)


@pytest.mark.parametrize(
    "reply,code",
    [
        (b"HELLO THERE\r\n\r\n", "EPROTO"),  # not an HTTP status line
        (b"", "ECONNRESET"),  # the server closes without a word
        (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}", "ECONNRESET"),  # body cut short
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "EPROTO"),
    ],
)
async def test_a_broken_exchange_is_a_connection_error_with_its_code(
    wire: ExecutorContext, reply: bytes, code: str
) -> None:
    server, url = await answer(reply)
    async with server:
        result = await routed(wire, api_test=url).execute(http_step(), {})
    assert result.outcome == "connection_error" and result.error_code == code
    assert result.variables["http_attempts"] == 1


QUERY_VALUES = ["+1 (415) 555-2671", "a&b=c", "100%", "ümlaut #1", "x/y?z", "1+1", ""]


@pytest.mark.parametrize("value", QUERY_VALUES)
async def test_the_wire_sends_the_query_the_in_process_layer_promises(
    wire: ExecutorContext, scripted: ScriptedServer, value: str
) -> None:
    scripted.script("/customers", WireReply(200, {"data": []}))
    step = http_step(url="http://api.test/customers?phone={{p}}&src=ivr")
    await routed(wire, api_test=scripted.url).execute(step, {"p": value})

    router = respx.MockRouter()
    customers = router.route(path="/customers").respond(200, json={"data": []})
    clock = VirtualClock()
    ctx = ExecutorContext.create(
        clock=clock,
        wire=ScriptedWire(routed_by(router)),
        resolver=FaultyResolver(clock, hosts=TEST_HOSTS),
    )
    try:
        await HttpStepExecutor(ctx).execute(step, {"p": value})
    finally:
        await ctx.aclose()
    over_the_wire = parse_qs(scripted.seen[0].query, keep_blank_values=True)
    in_process = parse_qs(customers.calls.last.request.url.query.decode(), keep_blank_values=True)
    assert over_the_wire == in_process
    # an unencoded '#' starts a fragment on both: the rest of the URL is never sent
    assert over_the_wire.get("src") == (None if "#" in value else ["ivr"])


async def test_no_content_type_the_flow_did_not_set_and_the_one_it_did(
    wire: ExecutorContext, scripted: ScriptedServer
) -> None:
    scripted.script("/x", WireReply(200, {}))
    executor = routed(wire, api_test=scripted.url)
    await executor.execute(http_step(), {})
    await executor.execute(
        http_step(method="POST", body={"a": 1}, headers={"Content-Type": "application/json"}), {}
    )
    get, post = scripted.seen
    assert "content-type" not in get.headers
    assert post.headers["content-type"] == "application/json" and post.body == b'{"a": 1}'


async def test_a_cookie_one_caller_was_given_is_not_sent_for_the_next(
    wire: ExecutorContext, scripted: ScriptedServer
) -> None:
    scripted.script("/x", WireReply(200, {}, headers={"Set-Cookie": "session=caller-1; Path=/"}))
    executor = routed(wire, api_test=scripted.url)
    await executor.execute(http_step(), {})
    await executor.execute(http_step(), {})
    assert [s.headers.get("cookie") for s in scripted.seen] == [None, None]


async def test_a_cancelled_attempt_leaves_the_connection_pool_usable(
    wire: ExecutorContext, scripted: ScriptedServer
) -> None:
    scripted.script("/slow", WireReply(200, {}, delay=5))
    scripted.script("/x", WireReply(200, {"ok": 1}))
    executor = routed(wire, api_test=scripted.url)
    slow = http_step(url="http://api.test/slow", timeout=200)
    timed_out = await asyncio.gather(*(executor.execute(slow, {}) for _ in range(5)))
    after = await executor.execute(http_step(responseMapping={"ok": "$.ok"}), {})
    assert {r.outcome for r in timed_out} == {"timeout"}
    assert after.outcome == "success" and after.variables["ok"] == 1


# Retries configured on purpose: an unsendable URL is the caller's data, not the
# backend's failure, so it is never retried (and never counted by a breaker).
RETRY = {"maxRetries": 2, "backoff": "none", "retryOnStatusCodes": [503]}
LOOKUP = "http://api.test/customers?phone={{p}}"
UNSENDABLE = ["\x00", "\x1f", "\x7f", "+1415\x005552671", "4155552671\r\nX-Injected: 1"]


async def _lookup(
    wire: ExecutorContext, server: ScriptedServer, value: str
) -> tuple[str, str, int]:
    server.script("/customers", WireReply(200, {"data": []}))
    step = http_step(url=LOOKUP, retryPolicy=RETRY)
    result = await routed(wire, api_test=server.url).execute(step, {"p": value})
    return result.outcome, result.error_code, result.variables["http_attempts"]


@pytest.mark.parametrize("value", UNSENDABLE)
async def test_a_control_character_in_the_url_is_refused_unsent_as_einvalidurl(
    wire: ExecutorContext, scripted: ScriptedServer, value: str
) -> None:
    # aiohttp would percent-encode these and send them; the platform's client refuses.
    assert await _lookup(wire, scripted, value) == ("connection_error", "EINVALIDURL", 1)
    assert scripted.seen == []


async def test_a_url_at_the_platforms_length_limit_is_sent_and_one_past_it_is_not(
    wire: ExecutorContext, scripted: ScriptedServer
) -> None:
    room = CXONE.max_url_chars - len(LOOKUP.replace("{{p}}", ""))
    assert await _lookup(wire, scripted, "a" * room) == ("success", "", 1)
    assert len(scripted.seen[0].query) == len("phone=") + room  # it arrived whole
    assert await _lookup(wire, scripted, "a" * (room + 1)) == (
        "connection_error", "EINVALIDURL", 1,
    )  # fmt: skip
    assert len(scripted.seen) == 1


async def test_the_length_limit_counts_the_url_as_it_goes_on_the_wire(
    wire: ExecutorContext, scripted: ScriptedServer
) -> None:
    # "é" travels as %C3%A9: six characters on the wire for one in the flow's text.
    room = CXONE.max_url_chars - len(LOOKUP.replace("{{p}}", ""))
    assert await _lookup(wire, scripted, "\u00e9" * (room // 6)) == ("success", "", 1)
    assert await _lookup(wire, scripted, "\u00e9" * 11_000) == (
        "connection_error", "EINVALIDURL", 1,
    )  # fmt: skip
    assert len(scripted.seen) == 1


async def test_a_redirect_is_the_flows_to_read_not_followed(
    wire: ExecutorContext, scripted: ScriptedServer
) -> None:
    # The platform hands the flow a 3xx and its Location (the 202 pattern reads it too).
    scripted.script("/x", WireReply(302, {}, headers={"Location": "/elsewhere"}))
    scripted.script("/elsewhere", WireReply(200, {"ok": 1}))
    result = await routed(wire, api_test=scripted.url).execute(http_step(), {})
    assert (result.outcome, result.variables["http_status_code"]) == ("http_error", 302)
    assert result.variables["http_location"] == "/elsewhere"
    assert [s.path for s in scripted.seen] == ["/x"]
