"""Benchmark the embedded Toxiproxy-compatible proxy against SPEC section 5's tolerances.

Run: .venv/bin/python bench/bench_proxy.py --out bench/results-proxy.json
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
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
    return results


if __name__ == "__main__":
    _common.main(__doc__, run, "bench/results-proxy.json")
