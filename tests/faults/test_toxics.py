"""Each toxic on real loopback sockets. Lower time bounds are exact; upper bounds allow CI noise."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import time
from typing import Any

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer

from tests.faults.proxy_helpers import Echo, connect, sync

SLACK = 0.3


async def _proxy(tp: Toxiproxy, echo: Echo, *toxics: dict[str, Any]) -> Any:
    proxy = await sync(tp.create, upstream=echo.address, name="p")
    for toxic in toxics:
        await sync(proxy.add_toxic, **toxic)
    return proxy


async def test_latency_round_trip(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await _proxy(
        tp,
        echo,
        {"type": "latency", "stream": "upstream", "attributes": {"latency": 100}},
        {"type": "latency", "stream": "downstream", "attributes": {"latency": 100}},
    )
    reader, writer = await connect(proxy.listen)
    start = time.monotonic()
    writer.write(b"hello")
    assert await reader.readexactly(5) == b"hello"
    elapsed = time.monotonic() - start
    writer.close()
    assert 0.200 <= elapsed < 0.200 + SLACK


async def test_bandwidth(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await _proxy(tp, echo, {"type": "bandwidth", "attributes": {"rate": 1000}})
    payload = bytes(range(256)) * 400  # 102,400 bytes at 1000 KB/s: 102.4 ms
    reader, writer = await connect(proxy.listen)
    start = time.monotonic()
    writer.write(payload)
    assert await reader.readexactly(len(payload)) == payload
    elapsed = time.monotonic() - start
    writer.close()
    assert 0.1024 <= elapsed < 0.1024 + SLACK


async def test_slow_close(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await _proxy(tp, echo, {"type": "slow_close", "attributes": {"delay": 100}})
    reader, writer = await connect(proxy.listen)
    writer.write(b"x")
    assert await reader.readexactly(1) == b"x"
    start = time.monotonic()
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    elapsed = time.monotonic() - start
    writer.close()
    assert 0.100 <= elapsed < 0.100 + SLACK


async def test_timeout_closes_after_idle(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await _proxy(tp, echo, {"type": "timeout", "attributes": {"timeout": 100}})
    reader, writer = await connect(proxy.listen)
    start = time.monotonic()
    writer.write(b"swallowed")
    assert await asyncio.wait_for(reader.read(), 2) == b""
    elapsed = time.monotonic() - start
    writer.close()
    assert 0.100 <= elapsed < 0.100 + SLACK


async def test_timeout_zero_black_holes_until_removed(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await _proxy(tp, echo, {"type": "timeout", "attributes": {"timeout": 0}})
    reader, writer = await connect(proxy.listen)
    writer.write(b"into the void")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.5)
    await sync(proxy.destroy_toxic, "timeout_downstream")
    assert await asyncio.wait_for(reader.read(), 1.0) == b""
    writer.close()


async def test_reset_peer_gives_econnreset(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await _proxy(
        tp, echo, {"type": "reset_peer", "stream": "upstream", "attributes": {"timeout": 100}}
    )
    reader, writer = await connect(proxy.listen)
    start = time.monotonic()
    writer.write(b"reset toxic payload\n")
    with pytest.raises(ConnectionResetError) as info:
        await asyncio.wait_for(reader.read(1000), 2)
    elapsed = time.monotonic() - start
    writer.close()
    assert info.value.errno == errno.ECONNRESET
    assert 0.100 <= elapsed < 0.100 + SLACK


async def test_limit_data_forwards_exactly_then_closes(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await _proxy(tp, echo, {"type": "limit_data", "attributes": {"bytes": 100}})
    reader, writer = await connect(proxy.listen)
    writer.write(bytes(range(150)))
    received = await asyncio.wait_for(reader.read(), 2)
    writer.close()
    assert received == bytes(range(100))


async def test_slicer_cuts_into_single_bytes(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await _proxy(
        tp,
        echo,
        {
            "type": "slicer",
            "attributes": {"average_size": 1, "size_variation": 0, "delay": 20_000},
        },
    )
    payload = b"abcdefghijklmnopqrstuvwx"
    reader, writer = await connect(proxy.listen)
    writer.write(payload)
    reads: list[bytes] = []
    while sum(map(len, reads)) < len(payload):
        reads.append(await asyncio.wait_for(reader.read(100), 2))
    writer.close()
    assert reads == [bytes([b]) for b in payload]


async def test_toxicity_zero_never_applies(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await _proxy(
        tp, echo, {"type": "timeout", "toxicity": 0.0, "attributes": {"timeout": 0}}
    )
    reader, writer = await connect(proxy.listen)
    writer.write(b"through")
    assert await asyncio.wait_for(reader.readexactly(7), 1) == b"through"
    writer.close()


async def test_jitter_stays_within_bounds(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await _proxy(tp, echo, {"type": "latency", "attributes": {"latency": 60, "jitter": 40}})
    reader, writer = await connect(proxy.listen)
    for _ in range(5):
        start = time.monotonic()
        writer.write(b"j")
        await reader.readexactly(1)
        assert 0.020 <= time.monotonic() - start < 0.100 + SLACK
    writer.close()


async def test_update_applies_to_live_connection(tp: Toxiproxy, echo: Echo) -> None:
    from toxiproxy.api import APIConsumer

    proxy = await _proxy(tp, echo, {"type": "latency", "attributes": {"latency": 10}})
    reader, writer = await connect(proxy.listen)
    url = "/proxies/p/toxics/latency_downstream"
    await sync(APIConsumer.post, url, json={"attributes": {"latency": 150}})
    start = time.monotonic()
    writer.write(b"u")
    await reader.readexactly(1)
    writer.close()
    assert 0.150 <= time.monotonic() - start < 0.150 + SLACK


async def test_bandwidth_zero_holds_data_until_removed(tp: Toxiproxy, echo: Echo) -> None:
    # As Toxiproxy 2.12: a rate of 0 delivers nothing; removing the toxic lets it all through.
    proxy = await _proxy(tp, echo, {"type": "bandwidth", "attributes": {"rate": 0}})
    reader, writer = await connect(proxy.listen)
    writer.write(b"held back")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(1), 0.3)
    await sync(proxy.destroy_toxic, "bandwidth_downstream")
    assert await asyncio.wait_for(reader.readexactly(9), 2) == b"held back"
    writer.close()


@pytest.mark.skipif(
    bool(os.environ.get("TOXIPROXY_TEST_SERVER_URL")),
    reason="the real server answers an EOF or a reset here, by timing; ours always an EOF",
)
async def test_refused_upstream_ends_the_client_connection(tp: Toxiproxy) -> None:
    # Toxiproxy 2.12 closes the client when the upstream refuses: an EOF, or a reset when
    # the client's bytes arrived first (both seen on the real server). Ours drains what
    # the client sent, so it is always an EOF; either way no data ever comes back.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    proxy = await sync(tp.create, upstream=dead, name="dead")
    for _ in range(10):
        reader, writer = await connect(proxy.listen)
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()


async def test_an_upstream_slow_to_accept_gets_the_bytes_sent_while_it_was_dialled(
    monkeypatch: pytest.MonkeyPatch, tp: Toxiproxy
) -> None:
    # Over loopback a dial completes inside connect(); it stays in progress only when the
    # upstream's accept queue is full and its SYN is dropped (retried 1 s later). The
    # client's bytes sent meanwhile must reach the upstream once it takes the connection.
    from harness.faults.toxiproxy import proxy

    watched = []
    original = proxy.Connection._dialled
    monkeypatch.setattr(
        proxy.Connection, "_dialled", lambda *args: (watched.append(1), original(*args))
    )
    loop = asyncio.get_running_loop()
    with socket.socket() as upstream:
        upstream.bind(("127.0.0.1", 0))
        upstream.listen(0)
        upstream.setblocking(False)
        address = f"127.0.0.1:{upstream.getsockname()[1]}"
        filler = socket.create_connection(upstream.getsockname())  # fills the queue
        live = await sync(tp.create, upstream=address, name="slow-accept")
        reader, writer = await connect(live.listen)
        writer.write(b"early")
        await asyncio.sleep(0.2)
        assert watched == []  # still dialling: the upstream has not taken it
        (await loop.sock_accept(upstream))[0].close()
        filler.close()
        server_side, _ = await asyncio.wait_for(loop.sock_accept(upstream), 10)
        with server_side:
            assert await asyncio.wait_for(loop.sock_recv(server_side, 5), 5) == b"early"
            await loop.sock_sendall(server_side, b"late")
            assert await asyncio.wait_for(reader.readexactly(4), 5) == b"late"
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    assert watched == [1]


async def test_an_upstream_dialled_after_a_lookup_relays_and_ends_like_a_literal_one(
    monkeypatch: pytest.MonkeyPatch, echo: Echo
) -> None:
    # Most upstreams are IP literals, dialled in the accept's own loop turn; a name to
    # look up is dialled in a task. Force that path: the same bytes, the same refusal.
    from harness.faults.toxiproxy import EmbeddedToxiproxy, proxy

    monkeypatch.setattr(proxy, "resolve_now", lambda address: None)
    async with EmbeddedToxiproxy(host="127.0.0.1", port=0, seed=1) as server:
        tp = Toxiproxy()
        APIConsumer.host, APIConsumer.port = server.host, server.port
        live = await sync(tp.create, upstream=echo.address, name="looked-up")
        reader, writer = await connect(live.listen)
        writer.write(b"hello")
        assert await asyncio.wait_for(reader.readexactly(5), 2) == b"hello"
        writer.close()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            dead = f"127.0.0.1:{probe.getsockname()[1]}"
        refused = await sync(tp.create, upstream=dead, name="looked-up-dead")
        reader, writer = await connect(refused.listen)
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
