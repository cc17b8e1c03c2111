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
