"""The embedded server under hostile clients: slow requests, floods, other hosts.

A CI runner's loopback port is reachable by every job on it. These tests build
their own servers (with small limits), so they always run against the embedded one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.errors import UnsafeTargetError
from harness.faults.toxiproxy import EmbeddedToxiproxy, Limits
from tests.faults.proxy_helpers import Echo, connect, start_serve

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 2.0
ROOM_S = 3.0  # CI noise allowance on top of a physical bound


@contextlib.asynccontextmanager
async def embedded(**limits: Any) -> AsyncIterator[EmbeddedToxiproxy]:
    async with EmbeddedToxiproxy(seed=1, limits=Limits(**limits)) as server:
        yield server


_writers: list[asyncio.StreamWriter] = []


@pytest.fixture(autouse=True)
async def _close_raw_connections() -> AsyncIterator[None]:
    yield
    while _writers:
        _writers.pop().close()


async def _raw(server: EmbeddedToxiproxy, data: bytes = b"") -> asyncio.StreamReader:
    """A raw client connection that stays open (its writer is kept) until the test ends."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(data)
    _writers.append(writer)
    return reader


async def _eof_after(reader: asyncio.StreamReader, since: float) -> float:
    assert await asyncio.wait_for(reader.read(), DEADLINE_S + ROOM_S) == b""
    return time.monotonic() - since


def _asgi_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_slow_clients_delay_nobody_and_are_dropped_at_their_deadline(
    echo: Echo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with embedded(read_timeout_s=DEADLINE_S) as server:
        started = time.monotonic()
        # The old server took its lock, then waited for these 96 missing bytes for ever.
        slow_body = await _raw(
            server, b'POST /proxies HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{"na'
        )
        slow_header = await _raw(server, b"GET /proxies HTTP/1.1\r\nHo")
        silent = await _raw(server)
        await asyncio.sleep(0.05)  # let the server start reading them
        async with httpx.AsyncClient(base_url=server.url) as client:
            created = await client.post("/proxies", json={"name": "p", "upstream": echo.address})
            listed = await client.get("/proxies")
        assert created.status_code == 201 and list(listed.json()) == ["p"]
        # Served while every slow client still had its connection: nobody waited for them.
        assert not any(r.at_eof() for r in (slow_body, slow_header, silent))
        for reader in (slow_body, slow_header, silent):
            elapsed = await _eof_after(reader, started)
            assert DEADLINE_S <= elapsed <= DEADLINE_S + ROOM_S
    assert _asgi_errors(caplog) == []


async def test_a_slow_second_request_on_a_kept_alive_connection_is_dropped_too() -> None:
    async with embedded(read_timeout_s=DEADLINE_S) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET /version HTTP/1.1\r\nHost: t\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        sent = time.monotonic()
        writer.write(b"GET /proxies HTTP/1.1\r\n")
        elapsed = await _eof_after(reader, sent)
        assert DEADLINE_S <= elapsed <= DEADLINE_S + ROOM_S
        writer.close()


async def test_pipelined_requests_are_answered_and_an_unfinished_one_dropped() -> None:
    async with embedded(read_timeout_s=DEADLINE_S) as server:
        sent = time.monotonic()
        reader = await _raw(
            server,
            b"GET /version HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /proxies HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /proxies HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n{",
        )
        answers = await asyncio.wait_for(reader.read(), DEADLINE_S + ROOM_S)
        elapsed = time.monotonic() - sent
    assert answers.count(b"HTTP/1.1 200 OK") == 2 and answers.endswith(b"{}")
    assert DEADLINE_S <= elapsed <= DEADLINE_S + ROOM_S


async def test_stopping_with_a_request_half_sent_logs_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    async with embedded() as server:
        pending = await _raw(
            server, b"PATCH /proxies/p HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n{"
        )
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"POST /populate HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n[")
        await asyncio.sleep(0.05)
        writer.transport.abort()  # a client that goes away mid-body
        await asyncio.sleep(0.05)
    assert await asyncio.wait_for(pending.read(), 5) == b""
    assert _asgi_errors(caplog) == []


async def _open_count(readers: list[asyncio.StreamReader]) -> int:
    """How many of these connections the server still holds open."""
    await asyncio.sleep(0.2)
    return sum(not r.at_eof() and not r.exception() for r in readers)


async def test_dribbling_clients_beyond_the_cap_neither_lock_the_api_nor_pile_up() -> None:
    """Issue 20 #9: 70 connections each sending a header line now and then used to get
    every other client a 503 for the whole read timeout, renewable for ever, and idle
    sockets were accepted without a cap (1,000 sockets, 1,013 fds). A newcomer now takes
    the place of the oldest connection that has not sent a whole header."""
    cap = 8
    async with embedded(max_api_connections=cap, read_timeout_s=60, header_timeout_s=60) as server:
        dribblers = []
        for _ in range(70):
            reader = await _raw(server, b"GET /proxies HTTP/1.1\r\n")
            dribblers.append(reader)
        for writer in list(_writers):
            writer.write(b"X-Slow: 1\r\n")  # still dribbling, header never complete
        idle = [await _raw(server) for _ in range(30)]  # sockets that never send a byte
        assert await _open_count(dribblers + idle) <= cap
        async with httpx.AsyncClient(base_url=server.url) as client:
            started = time.monotonic()
            answers = [await client.get("/version") for _ in range(5)]
            served_in = time.monotonic() - started
        assert [a.status_code for a in answers] == [200] * 5
        assert served_in < ROOM_S  # at once: far inside the 60 s deadlines
        assert await _open_count(dribblers + idle) <= cap - 1  # the client holds one slot


async def test_a_header_dribbled_past_the_header_deadline_is_dropped_then() -> None:
    header_s = 1.0
    async with embedded(read_timeout_s=30, header_timeout_s=header_s) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        _writers.append(writer)
        sent = time.monotonic()
        writer.write(b"GET /proxies HTTP/1.1\r\n")
        while not reader.at_eof():
            writer.write(b"X-Slow: 1\r\n")  # a line every 0.2 s keeps no per-read clock alive
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reader.read(), 0.2)
            if time.monotonic() - sent > header_s + ROOM_S:
                pytest.fail("the dribbling header was not dropped at its deadline")
        elapsed = time.monotonic() - sent
    assert header_s <= elapsed <= header_s + ROOM_S


async def test_a_body_still_has_the_read_deadline_after_a_prompt_header() -> None:
    async with embedded(read_timeout_s=DEADLINE_S, header_timeout_s=0.5) as server:
        sent = time.monotonic()
        reader = await _raw(
            server, b"POST /proxies HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{"
        )
        elapsed = await _eof_after(reader, sent)
    # The header came at once, so the body's time is the whole read deadline, not 0.5 s.
    assert DEADLINE_S <= elapsed <= DEADLINE_S + ROOM_S


async def test_oversized_bodies_are_refused_at_once() -> None:
    async with embedded(max_body_bytes=1024) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            big = await client.post("/populate", content=b"[" + b" " * 2000 + b"]")
        assert big.status_code == 413
        assert big.json() == {
            "error": "request body too large: the limit is 1024 bytes",
            "status": 413,
        }
        # A claimed length is enough: no need to wait for the bytes.
        reader = await _raw(
            server, b"POST /proxies HTTP/1.1\r\nHost: t\r\nContent-Length: 999999999\r\n\r\n"
        )
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert answer.startswith(b"HTTP/1.1 413")


NOT_LOOPBACK = [
    ({"listen": "0.0.0.0:0"}, "listen address 0.0.0.0:0 is every interface"),
    ({"listen": "[::]:0"}, "listen address [::]:0 is every interface"),
    ({"listen": "192.0.2.1:0"}, "listen address 192.0.2.1:0 is a non-loopback host"),
]


@pytest.mark.parametrize(("fields", "message"), NOT_LOOPBACK)
async def test_proxies_listen_on_loopback(echo: Echo, fields: dict[str, str], message: str) -> None:
    async with embedded() as server, httpx.AsyncClient(base_url=server.url) as client:
        body = {"name": "p", "upstream": echo.address, **fields}
        created = await client.post("/proxies", json=body)
        assert created.status_code == 400
        assert created.json()["status"] == 400
        assert created.json()["error"].startswith(message)
        assert created.json()["error"].endswith("unless served with --allow-non-loopback")
        ok = {"name": "ok", "upstream": echo.address}
        populated = await client.post("/populate", json=[ok, body])
        assert populated.status_code == 400 and populated.json()["error"] == created.json()["error"]
        assert [p["name"] for p in populated.json()["proxies"]] == ["ok"]
        patched = await client.patch("/proxies/ok", json=fields)
        assert patched.status_code == 400
        assert (await client.get("/proxies/ok")).json()["upstream"] == echo.address


# Toxiproxy stores any upstream and dials it when a client arrives (compose-style names
# are the normal case for a standalone Toxiproxy); so does the embedded server.
OTHER_UPSTREAMS = ["somehost:12345", "redis:6379", "192.0.2.1:80", "[2001:db8::1]:80"]


@pytest.mark.parametrize("upstream", OTHER_UPSTREAMS)
async def test_any_upstream_is_stored_as_given(echo: Echo, upstream: str) -> None:
    async with embedded() as server, httpx.AsyncClient(base_url=server.url) as client:
        created = await client.post("/proxies", json={"name": "p", "upstream": upstream})
        assert created.status_code == 201 and created.json()["upstream"] == upstream
        await client.post("/proxies", json={"name": "q", "upstream": echo.address})
        patched = await client.patch("/proxies/q", json={"upstream": upstream})
        assert patched.status_code == 200 and patched.json()["upstream"] == upstream
        populated = await client.post("/populate", json=[{"name": "r", "upstream": upstream}])
        assert populated.status_code == 201
        assert (await client.get("/proxies/r")).json()["upstream"] == upstream


@pytest.mark.parametrize("upstream", ["192.0.2.1:80", "[2001:db8::1]:80"])
async def test_a_non_loopback_upstream_refuses_traffic_and_says_why(
    upstream: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with embedded() as server, httpx.AsyncClient(base_url=server.url) as client:
        created = await client.post("/proxies", json={"name": "p", "upstream": upstream})
        reader, writer = await connect(created.json()["listen"])
        # A dial to a TEST-NET address would hang here; the refusal closes at once.
        assert await asyncio.wait_for(reader.read(), DEADLINE_S) == b""
        writer.close()
    (record,) = [r for r in caplog.records if "refused a client" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(f"proxy p: refused a client: upstream {upstream} is ")
    assert "--allow-non-loopback" in record.getMessage()


async def test_a_loopback_upstream_by_name_still_relays(echo: Echo) -> None:
    port = echo.address.rpartition(":")[2]
    async with embedded() as server, httpx.AsyncClient(base_url=server.url) as client:
        body = {"name": "p", "upstream": "somehost:1", "listen": "localhost:0"}
        created = await client.post("/proxies", json=body)
        patched = await client.patch("/proxies/p", json={"upstream": f"localhost:{port}"})
        assert patched.status_code == 200
        reader, writer = await connect(created.json()["listen"])
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), DEADLINE_S) == b"ping"
        writer.close()


@pytest.mark.parametrize("address", ["localhost:{port}", "127.0.0.1:{port}", "127.0.0.2:{port}"])
async def test_loopback_spellings_are_allowed(echo: Echo, address: str) -> None:
    port = echo.address.rpartition(":")[2]
    async with embedded() as server, httpx.AsyncClient(base_url=server.url) as client:
        body = {"name": "p", "upstream": address.format(port=port), "listen": "localhost:0"}
        created = await client.post("/proxies", json=body)
    assert created.status_code == 201


async def test_allow_non_loopback_lets_a_proxy_listen_elsewhere() -> None:
    async with embedded(allow_non_loopback=True) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            body = {"name": "p", "upstream": "192.0.2.1:80", "listen": "192.0.2.1:0"}
            body["enabled"] = False  # nothing binds or dials: 192.0.2.1 is not ours
            assert (await client.post("/proxies", json=body)).status_code == 201


async def test_api_refuses_a_non_loopback_host_before_binding() -> None:
    with pytest.raises(UnsafeTargetError, match="allow_non_loopback"):
        async with EmbeddedToxiproxy(host="0.0.0.0", port=0):
            pass


async def test_proxy_count_is_capped(echo: Echo) -> None:
    async with embedded(max_proxies=2) as server, httpx.AsyncClient(base_url=server.url) as client:
        for name in ("a", "b"):
            body = {"name": name, "upstream": echo.address}
            assert (await client.post("/proxies", json=body)).status_code == 201
        third = await client.post("/proxies", json={"name": "c", "upstream": echo.address})
        assert third.status_code == 503
        assert third.json()["error"].startswith("too many proxies: this server holds at most 2")
        # Replacing one at the cap is fine; adding one is not.
        spec = [{"name": "a", "upstream": "127.0.0.1:1"}, {"name": "c", "upstream": echo.address}]
        populated = await client.post("/populate", json=spec)
        assert populated.status_code == 503
        assert [p["name"] for p in populated.json()["proxies"]] == ["a"]
        assert (await client.delete("/proxies/b")).status_code == 204
        assert (
            await client.post("/proxies", json={"name": "c", "upstream": echo.address})
        ).status_code == 201


async def test_clients_per_proxy_are_capped(echo: Echo) -> None:
    async with embedded(max_connections_per_proxy=2) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            body = {"name": "p", "upstream": echo.address}
            listen = (await client.post("/proxies", json=body)).json()["listen"]
        first, second = await connect(listen), await connect(listen)
        for reader, writer in (first, second):
            writer.write(b"in")
            assert await asyncio.wait_for(reader.readexactly(2), 2) == b"in"
        reader, writer = await connect(listen)
        assert await asyncio.wait_for(reader.read(), 2) == b""  # closed at once
        writer.close()
        first[1].close()
        for _ in range(100):
            reader, writer = await connect(listen)
            writer.write(b"ok")
            with contextlib.suppress(asyncio.IncompleteReadError):
                if await asyncio.wait_for(reader.readexactly(2), 2) == b"ok":
                    break
            writer.close()
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the freed slot was never given to a new client")
        writer.close()
        second[1].close()


async def test_all_proxies_share_one_client_budget(echo: Echo) -> None:
    async with embedded(max_clients=2) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            a = await client.post("/proxies", json={"name": "a", "upstream": echo.address})
            b = await client.post("/proxies", json={"name": "b", "upstream": echo.address})
        held = [await connect(a.json()["listen"]) for _ in range(2)]
        for reader, writer in held:
            writer.write(b"in")
            assert await asyncio.wait_for(reader.readexactly(2), 2) == b"in"
        reader, writer = await connect(b.json()["listen"])
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
        held[0][1].close()
        for _ in range(100):
            await asyncio.sleep(0.02)
            reader, writer = await connect(b.json()["listen"])
            writer.write(b"ok")
            with contextlib.suppress(asyncio.IncompleteReadError):
                if await asyncio.wait_for(reader.readexactly(2), 2) == b"ok":
                    break
            writer.close()
        else:
            pytest.fail("the budget freed by a closed client was never reused")
        writer.close()
        held[1][1].close()


FD_LIMIT = 256


def _low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


async def test_out_of_file_descriptors_clients_are_refused_and_the_api_answers(
    echo: Echo,
) -> None:
    process, url = await start_serve(stderr=True, preexec_fn=_low_fd_limit)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            body = {"name": "p", "upstream": echo.address}
            listen = (await client.post("/proxies", json=body)).json()["listen"]
            served, refused, writers = 0, 0, []
            for _ in range(FD_LIMIT):  # twice what the server could hold
                reader, writer = await connect(listen)
                writers.append(writer)
                writer.write(b"x")
                try:
                    answer = await asyncio.wait_for(reader.read(1), 5)
                except ConnectionResetError:  # closed at accept, with our byte unread
                    answer = b""
                served, refused = (served + 1, refused) if answer else (served, refused + 1)
            # The API still answers at once, with a proxy or a clear error.
            more = await client.post("/proxies", json={"name": "q", "upstream": echo.address})
            assert more.status_code == 201
            assert (await client.get("/proxies")).status_code == 200
        for writer in writers:
            writer.close()
        assert served > 0 and refused > 0 and served + refused == FD_LIMIT
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert len(stderr) < 4096, stderr[:4096].decode(errors="replace")
