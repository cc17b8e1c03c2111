"""Benchmark the embedded Toxiproxy-compatible proxy against SPEC section 5's tolerances.

With ``TOXIPROXY_BIN`` naming a real ``toxiproxy-server``, ``versus_toxiproxy`` puts
both side by side, interleaved (direct, embedded, real, ROUNDS times; medians):
round-trip overhead p50/p99 over direct, connection set-up overhead p50/p99 (open a
connection, send one byte, read its echo, close), connections per second, and bulk
throughput as a fraction of direct. Skipped (with the reason) without the variable.

Run: .venv/bin/python bench/bench_proxy.py --out bench/results-proxy.json
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import _common  # bench/ is on sys.path: the scripts' own folder
import httpx

from harness.faults.toxiproxy import EmbeddedToxiproxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(262144):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


BULK = 256 * 1024 * 1024


async def _open(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, _, port = address.rpartition(":")
    return await asyncio.open_connection(host, int(port))


async def _round_trip(address: str, payload: bytes) -> float:
    reader, writer = await _open(address)
    start = time.perf_counter()
    writer.write(payload)
    assert await reader.readexactly(len(payload)) == payload
    elapsed = time.perf_counter() - start
    writer.close()
    return elapsed


async def _proxy(client: httpx.AsyncClient, name: str, upstream: str, *toxics: Any) -> str:
    created = await client.post("/proxies", json={"name": name, "upstream": upstream})
    for toxic in toxics:
        (await client.post(f"/proxies/{name}/toxics", json=toxic)).raise_for_status()
    return str(created.json()["listen"])


async def _requests(address: str, count: int) -> list[float]:
    reader, writer = await _open(address)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        writer.write(b"x" * 64)
        await reader.readexactly(64)
        times.append(time.perf_counter() - start)
    writer.close()
    return times


# The bulk sender and its sink run in a child process, on their own core: the proxy is
# measured as deployed (between other processes), not competing with both ends for one
# thread. The child does the same work for the direct and the proxied transfer.
_BULK_CHILD = """
import asyncio, sys, time
BULK = int(sys.argv[1])
async def sink(reader, writer):
    total = 0
    while total < BULK and (data := await reader.read(262144)):
        total += len(data)
    writer.write(str(total).encode()); await writer.drain(); writer.close()
async def send(address):
    host, _, port = address.rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    block = bytes(262144)
    start = time.perf_counter()
    for _ in range(BULK // len(block)):
        writer.write(block)
        await writer.drain()
    total = int(await reader.read())
    elapsed = time.perf_counter() - start
    writer.close()
    return total, elapsed
async def main():
    server = await asyncio.start_server(sink, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
        total, elapsed = await send(line)
        print(total, elapsed, flush=True)
asyncio.run(main())
"""


async def _bulk_child(size: int) -> tuple[asyncio.subprocess.Process, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _BULK_CHILD, str(size),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    port = int((await child.stdout.readline()).decode())
    return child, f"127.0.0.1:{port}"


async def _throughput(child: asyncio.subprocess.Process, address: str, size: int) -> float:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(f"{address}\n".encode())
    await child.stdin.drain()
    total, elapsed = (await child.stdout.readline()).decode().split()
    assert int(total) == size
    return int(total) / float(elapsed)


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


async def _connects(address: str, count: int) -> tuple[list[float], float]:
    """Seconds from connect to the first byte's echo, one connection each; and conns/s."""
    host, _, port = address.rpartition(":")
    times = []
    begin = time.perf_counter()
    for _ in range(count):
        start = time.perf_counter()
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"x")
        await reader.readexactly(1)
        times.append(time.perf_counter() - start)
        writer.close()
        await writer.wait_closed()
    return times, count / (time.perf_counter() - begin)


ROUNDS = 4
VERSUS_BULK = 64 * 1024 * 1024


@contextlib.asynccontextmanager
async def _real_toxiproxy(binary: str) -> AsyncIterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        binary, "-host", "127.0.0.1", "-port", str(port),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/version")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        yield url
    finally:
        process.terminate()
        await process.wait()


async def _figures(address: str, child: asyncio.subprocess.Process, sink: str) -> dict[str, Any]:
    requests = (await _requests(address, 2000))[200:]
    connects, per_second = await _connects(address, 500)
    bulk = await _throughput(child, sink, VERSUS_BULK)
    return {"req": requests, "conn": connects[50:], "cps": per_second, "bulk": bulk}


async def versus_toxiproxy() -> dict[str, Any]:
    """The embedded proxy and a real Toxiproxy, interleaved, as overhead over direct."""
    binary = os.environ.get("TOXIPROXY_BIN", "")
    if not binary or not os.access(binary, os.X_OK):
        return {"skipped": "TOXIPROXY_BIN does not name an executable toxiproxy-server"}
    asked = await asyncio.create_subprocess_exec(
        binary, "-version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    version = (await asked.communicate())[0].decode()
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    echo_addr = f"127.0.0.1:{echo.sockets[0].getsockname()[1]}"
    child, child_sink = await _bulk_child(VERSUS_BULK)
    rows: dict[str, list[dict[str, Any]]] = {"direct": [], "embedded": [], "real": []}
    async with (
        EmbeddedToxiproxy(seed=1) as server,
        _real_toxiproxy(binary) as real_url,
        httpx.AsyncClient(base_url=server.url) as embedded_api,
        httpx.AsyncClient(base_url=real_url) as real_api,
    ):
        targets: dict[str, tuple[str, str]] = {"direct": (echo_addr, child_sink)}
        for name, api in (("embedded", embedded_api), ("real", real_api)):
            targets[name] = (
                await _proxy_listen(api, "versus-echo", echo_addr),
                await _proxy_listen(api, "versus-bulk", child_sink),
            )
        for _ in range(ROUNDS):
            for name, (address, sink) in targets.items():
                rows[name].append(await _figures(address, child, sink))
    assert child.stdin is not None
    child.stdin.close()
    await child.wait()
    echo.close()
    return _versus_report(rows, version.strip())


async def _proxy_listen(api: httpx.AsyncClient, name: str, upstream: str) -> str:
    body = {"name": name, "upstream": upstream, "listen": "127.0.0.1:0"}
    created = await api.post("/proxies", json=body)
    created.raise_for_status()
    return str(created.json()["listen"])


def _versus_report(rows: dict[str, list[dict[str, Any]]], version: str) -> dict[str, Any]:
    def median(name: str, figure: Any) -> float:
        return statistics.median(figure(row) for row in rows[name])

    figures: dict[str, Any] = {"real_version": version, "rounds": ROUNDS}
    for name in ("embedded", "real"):
        figures[name] = {
            "overhead_p50_ms": median(name, lambda r: _pct(r["req"], 0.5)) * 1000
            - median("direct", lambda r: _pct(r["req"], 0.5)) * 1000,
            "overhead_p99_ms": median(name, lambda r: _pct(r["req"], 0.99)) * 1000
            - median("direct", lambda r: _pct(r["req"], 0.99)) * 1000,
            "connection_p50_overhead_ms": median(name, lambda r: _pct(r["conn"], 0.5)) * 1000
            - median("direct", lambda r: _pct(r["conn"], 0.5)) * 1000,
            "connection_p99_overhead_ms": median(name, lambda r: _pct(r["conn"], 0.99)) * 1000
            - median("direct", lambda r: _pct(r["conn"], 0.99)) * 1000,
            "connections_per_second_of_direct": median(name, lambda r: r["cps"])
            / median("direct", lambda r: r["cps"]),
            "bulk_of_direct": median(name, lambda r: r["bulk"])
            / median("direct", lambda r: r["bulk"]),
        }
    ours, theirs = figures["embedded"], figures["real"]
    lower = [k for k in ours if "overhead" in k]
    higher = ["connections_per_second_of_direct", "bulk_of_direct"]
    behind = [k for k in lower if ours[k] > theirs[k]] + [k for k in higher if ours[k] < theirs[k]]
    figures["behind_on"] = behind
    figures["target"] = "every figure ahead of real Toxiproxy; bulk >= 0.5x direct"
    figures["met"] = not behind and ours["bulk_of_direct"] >= 0.5
    return figures


async def run() -> dict[str, Any]:
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    echo_addr = f"127.0.0.1:{echo.sockets[0].getsockname()[1]}"
    results: dict[str, Any] = {}
    async with EmbeddedToxiproxy(seed=1) as server, httpx.AsyncClient(base_url=server.url) as c:
        lat = {"latency": 100}
        listen = await _proxy(
            c,
            "latency",
            echo_addr,
            {"type": "latency", "stream": "upstream", "attributes": lat},
            {"type": "latency", "stream": "downstream", "attributes": lat},
        )
        samples = [await _round_trip(listen, b"ping") for _ in range(10)]
        error_ms = max(abs(s - 0.2) for s in samples) * 1000
        results["latency_100_up_down_round_trip"] = {
            "median_ms": statistics.median(samples) * 1000,
            "max_error_ms": error_ms,
            "target": "+-20 ms",
            "met": error_ms <= 20,
        }
        half = {"latency": 500}
        listen = await _proxy(
            c,
            "chained",
            echo_addr,
            {"type": "latency", "stream": "upstream", "name": "l1", "attributes": half},
            {"type": "latency", "stream": "upstream", "name": "l2", "attributes": half},
        )
        elapsed = await _round_trip(listen, b"ping") * 1000
        results["two_chained_500ms_upstream"] = {
            "ms": elapsed,
            "target": "1000 +- 10 ms",
            "met": abs(elapsed - 1000) <= 10,
        }
        listen = await _proxy(
            c, "bandwidth", echo_addr, {"type": "bandwidth", "attributes": {"rate": 1000}}
        )
        payload = bytes(range(256)) * (480_000 // 256) + bytes(480_000 % 256)
        elapsed = await _round_trip(listen, payload) * 1000
        results["bandwidth_1000KBps_480000_bytes"] = {
            "ms": elapsed,
            "intact": True,
            "target": "480 +- 10 ms",
            "met": abs(elapsed - 480) <= 10,
        }
        listen = await _proxy(c, "plain", echo_addr)
        direct = (await _requests(echo_addr, 2000))[200:]
        proxied = (await _requests(listen, 2000))[200:]
        p50 = (_pct(proxied, 0.5) - _pct(direct, 0.5)) * 1000
        p99 = (_pct(proxied, 0.99) - _pct(direct, 0.99)) * 1000
        results["no_toxic_overhead_per_request"] = {
            "direct_p50_ms": _pct(direct, 0.5) * 1000,
            "proxied_p50_ms": _pct(proxied, 0.5) * 1000,
            "overhead_p50_ms": p50,
            "overhead_p99_ms": p99,
            "target": "p50 overhead < 0.3 ms",
            "met": p50 < 0.3,
        }
        size = BULK
        child, child_sink = await _bulk_child(size)
        listen = await _proxy(c, "bulk", child_sink)
        direct_bps = await _throughput(child, child_sink, size)
        proxied_bps = await _throughput(child, listen, size)
        assert child.stdin is not None
        child.stdin.close()
        await child.wait()
        results["bulk_throughput"] = {
            "direct_MBps": direct_bps / 1e6,
            "proxied_MBps": proxied_bps / 1e6,
            "ratio": proxied_bps / direct_bps,
            "target": ">= 0.5",
            "met": proxied_bps / direct_bps >= 0.5,
        }
    echo.close()
    results["versus_toxiproxy"] = await versus_toxiproxy()
    return results


if __name__ == "__main__":
    _common.main(__doc__, run, "bench/results-proxy.json")
