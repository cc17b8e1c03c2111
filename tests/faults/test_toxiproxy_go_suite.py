"""Toxiproxy's own ``api_test.go`` (Go), run against the embedded server.

Needs Go and a checkout of Shopify/toxiproxy (v2.12.0) named by TOXIPROXY_SOURCE_DIR,
with its Go modules available (``go mod download`` once while online). Each Go test
starts "its" server on localhost:8475 in-process and ignores the bind error; the
embedded server already holds that port, so the Go client talks to it. Tests run one
``go test -run`` at a time, with the embedded server wiped in between, because the
Go suite clears only its own (unused) in-process collection.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
from pathlib import Path

import httpx
import pytest

from harness.faults.toxiproxy import EmbeddedToxiproxy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

PORT = 8475  # hard-coded in api_test.go
SOURCE = os.environ.get("TOXIPROXY_SOURCE_DIR", "")


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed (no `go` on PATH)")
    if not SOURCE or not (Path(SOURCE) / "api_test.go").is_file():
        pytest.skip("TOXIPROXY_SOURCE_DIR does not name a Shopify/toxiproxy checkout")
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", PORT))
        except OSError:
            pytest.skip(f"127.0.0.1:{PORT} (hard-coded in api_test.go) is in use")
    return go


async def _go_run(go: str, *args: str, limit_s: float = 600) -> tuple[int, str]:
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off"}
    process = await asyncio.create_subprocess_exec(
        go,
        *args,
        cwd=SOURCE,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), limit_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, f"timed out after {limit_s} s"
    return process.returncode or 0, output.decode(errors="replace")


def _test_names() -> list[str]:
    text = (Path(SOURCE) / "api_test.go").read_text(encoding="utf-8")
    return re.findall(r"^func (Test\w+)\(t \*testing\.T\)", text, flags=re.MULTILINE)


async def test_toxiproxys_api_test_go_passes_against_the_embedded_server() -> None:
    go = _go()
    # Offline, modules must already be in the module cache; say so rather than fail.
    code, output = await _go_run(go, "test", "-count=1", "-run", "^$", ".")
    if code != 0:
        pytest.skip(f"cannot build Toxiproxy's tests offline (GOPROXY=off): {output[-500:]}")
    failures: dict[str, str] = {}
    async with EmbeddedToxiproxy(host="127.0.0.1", port=PORT, seed=1) as server:
        for name in _test_names():
            async with httpx.AsyncClient(base_url=server.url) as client:
                for proxy in (await client.get("/proxies")).json():
                    await client.delete(f"/proxies/{proxy}")
            code, output = await _go_run(go, "test", "-count=1", "-run", f"^{name}$", ".")
            if code != 0:
                failures[name] = output[-2000:]
    assert not failures, "\n\n".join(f"{n}:\n{o}" for n, o in failures.items())
