"""Live rebuilds of the toxic chain, many connections, and stages without sockets."""

from __future__ import annotations

import asyncio
import os
import random
import resource
import struct

import httpx
from toxiproxy import Toxiproxy

from harness.clock import VirtualClock
from harness.faults.toxiproxy.streams import Chunk, Flow, Link
from harness.faults.toxiproxy.toxics import Latency, LimitData, Slicer
from tests.faults.proxy_helpers import Echo, connect, sync


async def test_sequence_survives_latency_churn(tp: Toxiproxy, echo: Echo, server: object) -> None:
    proxy = await sync(tp.create, upstream=echo.address, name="p")
    reader, writer = await connect(proxy.listen)
    payload = b"".join(struct.pack(">H", i) for i in range(65535))
    done = asyncio.Event()

    async def churn() -> int:
        rounds = 0
        async with httpx.AsyncClient(base_url=server.url) as client:
            while not done.is_set():
                for stream in ("upstream", "downstream"):
                    await client.post(
                        "/proxies/p/toxics",
                        json={"type": "latency", "stream": stream, "attributes": {"latency": 2}},
                    )
                await asyncio.sleep(0.005)
                for stream in ("upstream", "downstream"):
                    await client.delete(f"/proxies/p/toxics/latency_{stream}")
                rounds += 1
        return rounds

    churner = asyncio.create_task(churn())

    async def send() -> None:
        for offset in range(0, len(payload), 997):
            writer.write(payload[offset : offset + 997])
            await writer.drain()
            await asyncio.sleep(0.002)

    sender = asyncio.create_task(send())
    received = await asyncio.wait_for(reader.readexactly(len(payload)), 20)
    done.set()
    await sender
    rounds = await churner
    writer.close()
    assert rounds >= 3
    assert received == payload


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_thousand_connections_no_fd_leak(tp: Toxiproxy, echo: Echo) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 8192:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(8192, hard), hard))
    proxy = await sync(tp.create, upstream=echo.address, name="p")
    await asyncio.sleep(0.05)
    before = _fds()

    async def one(i: int) -> bytes:
        reader, writer = await connect(proxy.listen)
        message = f"connection {i:04d} ".encode() * 20
        writer.write(message)
        data = await reader.readexactly(len(message))
        writer.close()
        await writer.wait_closed()
        return data if data == message else b""

    results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(1000))), 30)
    assert all(results)
    for _ in range(100):
        if _fds() <= before and echo.open == 0:
            break
        await asyncio.sleep(0.05)
    assert echo.open == 0
    assert _fds() <= before


class _ListSink:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.closed: bool | None = None

    def put(self, chunk: Chunk) -> None:
        self.chunks.append(chunk.data)

    def close(self, *, reset: bool = False) -> None:
        self.closed = reset


async def _settle(steps: int = 50) -> None:
    for _ in range(steps):
        await asyncio.sleep(0)


async def test_latency_stage_in_virtual_time() -> None:
    clock = VirtualClock()
    sink = _ListSink()
    link = Link(sink, Flow(), clock, lambda: random.Random(0))
    link.add("lat", Latency(latency=100))
    link.feed(b"a")
    await clock.sleep(0.0999)
    assert sink.chunks == []
    await clock.sleep(0.0002)
    assert sink.chunks == [b"a"]
    assert clock.monotonic() < 0.101
    link.stop()


async def test_removing_a_stage_mid_wait_releases_its_data_in_order() -> None:
    clock = VirtualClock()
    sink = _ListSink()
    link = Link(sink, Flow(), clock, lambda: random.Random(0))
    link.add("lat", Latency(latency=1000))
    link.add("slice", Slicer(average_size=1, delay=0))
    for part in (b"ab", b"cd", b"ef"):
        link.feed(part)
    await _settle(5)  # fewer yields than the virtual clock waits before jumping ahead
    assert sink.chunks == []
    link.remove("lat")
    link.feed_end()
    while sink.closed is None:
        await clock.sleep(0)
    assert clock.monotonic() < 1.0
    assert sink.chunks == [bytes([c]) for c in b"abcdef"]
    assert sink.closed is False
    link.stop()


async def test_limit_data_counts_across_updates() -> None:
    clock = VirtualClock()
    sink = _ListSink()
    link = Link(sink, Flow(), clock, lambda: random.Random(0))
    link.add("limit", LimitData(bytes=5))
    link.feed(b"abc")
    await _settle()
    link.update("limit", LimitData(bytes=6))
    link.feed(b"defgh")
    await _settle()
    assert b"".join(sink.chunks) == b"abcdef"
    assert sink.closed is False
    link.stop()
