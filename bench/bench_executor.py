"""Executor overhead beside a bare httpx call, and timeout fidelity.

* overhead: p50/p99 of 2000 executor calls vs 2000 bare `httpx.AsyncClient` GETs against
  the same loopback server (a separate process), interleaved in blocks so machine noise
  hits both alike. Target: executor p50 at most 1.3x the bare p50.
* wire CPU: CPU of this process per request, 100 requests in flight at once (the
  platform's per-tenant limit), for a bare httpx client (pool of 100), a bare aiohttp
  session (limit 100) and the executor (whose wire is aiohttp). The server is another
  process, so only the client's CPU counts. Informs the choice of aiohttp for the wire
  (harness/executor/wire.py); target: the executor below httpx's CPU per request.
* timeout fidelity: 200 attempts against a TCP black hole with a 100 ms timeout; how late
  each fires past its deadline. Target: p99 within 25 ms (never early).

Run: .venv/bin/python bench/bench_executor.py --out bench/results-executor.json
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
from typing import Any

import _common  # bench/ is on sys.path: the scripts' own folder
import aiohttp
import httpx

from harness.executor.context import ExecutorContext
from harness.executor.http_step import HttpStepExecutor
from harness.flow.loader import parse_flow

SERVER = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
BODY = b'{"status": "ok", "data": [{"id": "ACC-1"}]}'
async def ok(request): return Response(BODY, media_type="application/json")
app = Starlette(routes=[Route("/x", ok)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False)
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def _step(url: str, timeout: int) -> Any:
    doc = {
        "id": "bench",
        "name": "bench",
        "flowType": "IVR",
        "steps": [
            {
                "id": "lookup",
                "type": "HTTPRequest",
                "configuration": {
                    "url": url,
                    "method": "GET",
                    "timeout": timeout,
                    "headers": {"Accept": "application/json", "X-Request-Id": "{{call}}"},
                    "responseMapping": {"status": "$.status", "id": "$.data[0].id"},
                },
            }
        ],
    }
    return parse_flow(doc).steps[0]


async def _free_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()
    return port


@contextlib.asynccontextmanager
async def _server() -> Any:
    """The loopback server in a process of its own; yields its URL once it answers."""
    port = await _free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])  # noqa: ASYNC220 - once, before timing
    url = f"http://127.0.0.1:{port}/x"
    try:
        async with httpx.AsyncClient(timeout=5) as probe:
            for _ in range(100):
                try:
                    await probe.get(url)
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(5)


async def _cpu_us_per_request(send: Any, requests: int, concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with slots:
            await send()

    await asyncio.gather(*(one() for _ in range(concurrency * 2)))  # warm the pool
    started = time.process_time()
    await asyncio.gather(*(one() for _ in range(requests)))
    return (time.process_time() - started) * 1e6 / requests


async def wire_cpu(requests: int = 3000, concurrency: int = 100) -> dict[str, Any]:
    async with _server() as url:
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(timeout=None, limits=limits) as client:

            async def via_httpx() -> None:
                (await client.get(url, headers={"Accept": "application/json"})).json()

            httpx_us = await _cpu_us_per_request(via_httpx, requests, concurrency)
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def via_aiohttp() -> None:
                async with session.get(url, headers={"Accept": "application/json"}) as r:
                    await r.json()

            aiohttp_us = await _cpu_us_per_request(via_aiohttp, requests, concurrency)
        ctx = ExecutorContext.create()
        executor, step = HttpStepExecutor(ctx), _step(url, 5000)

        async def via_executor() -> None:
            await executor.execute(step, {"call": "c"})

        executor_us = await _cpu_us_per_request(via_executor, requests, concurrency)
        await ctx.aclose()
    return {
        "requests": requests,
        "in_flight": concurrency,
        "httpx_cpu_us_per_request": round(httpx_us),
        "aiohttp_cpu_us_per_request": round(aiohttp_us),
        "executor_cpu_us_per_request": round(executor_us),
        "httpx_over_aiohttp": round(httpx_us / aiohttp_us, 2),
        "executor_over_httpx": round(executor_us / httpx_us, 2),
        "target": "executor_over_httpx < 1 (the executor's wire costs less than bare httpx)",
        "met": executor_us < httpx_us,
    }


async def overhead(calls: int = 2000, block: int = 100) -> dict[str, Any]:
    async with _server() as url:
        async with httpx.AsyncClient(timeout=5) as bare:
            ctx = ExecutorContext.create()
            executor = HttpStepExecutor(ctx)
            step = _step(url, 5000)
            bare_ms: list[float] = []
            exec_ms: list[float] = []
            for _ in range(calls // block):
                for _ in range(block):
                    t = time.perf_counter()
                    (await bare.get(url, headers={"Accept": "application/json"})).json()
                    bare_ms.append((time.perf_counter() - t) * 1000)
                for _ in range(block):
                    t = time.perf_counter()
                    await executor.execute(step, {"call": "c"})
                    exec_ms.append((time.perf_counter() - t) * 1000)
                ctx.events.clear()  # keep memory flat over thousands of calls
            await ctx.aclose()
    ratio = statistics.median(exec_ms) / statistics.median(bare_ms)
    return {
        "calls": calls,
        "bare_p50_ms": statistics.median(bare_ms),
        "bare_p99_ms": _pct(bare_ms, 99),
        "executor_p50_ms": statistics.median(exec_ms),
        "executor_p99_ms": _pct(exec_ms, 99),
        "ratio_p50": ratio,
        "target": "ratio_p50 <= 1.3",
        "met": ratio <= 1.3,
    }


async def timeout_fidelity(attempts: int = 200, timeout_ms: int = 100) -> dict[str, Any]:
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await reader.read(-1)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ctx = ExecutorContext.create()
    executor = HttpStepExecutor(ctx)
    step = _step(f"http://127.0.0.1:{port}/x", timeout_ms)
    late: list[float] = []
    for _ in range(attempts):
        t = time.perf_counter()
        result = await executor.execute(step, {"call": "c"})
        assert result.outcome == "timeout"
        late.append((time.perf_counter() - t) * 1000 - timeout_ms)
    await ctx.aclose()
    for writer in held:
        writer.close()
    server.close()
    return {
        "attempts": attempts,
        "timeout_ms": timeout_ms,
        "late_min_ms": min(late),
        "late_p50_ms": statistics.median(late),
        "late_p99_ms": _pct(late, 99),
        "late_max_ms": max(late),
        "target": "0 <= late, p99 <= 25 ms",
        "met": min(late) >= 0 and _pct(late, 99) <= 25,
    }


async def run() -> dict[str, Any]:
    return {
        "executor_overhead": await overhead(),
        "wire_cpu": await wire_cpu(),
        "timeout_fidelity": await timeout_fidelity(),
    }


if __name__ == "__main__":
    _common.main(__doc__, run, "bench/results-executor.json")
