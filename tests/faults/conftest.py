"""Fixtures for the fault-proxy tests: an upstream echo server, a Toxiproxy server, a client.

The server is the embedded one, unless TOXIPROXY_TEST_SERVER_URL names a real Toxiproxy
dedicated to these tests: then every API and toxic test runs against it instead. That
is destructive: its proxies are deleted before and after each test.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer

from harness.faults.toxiproxy import EmbeddedToxiproxy
from tests.faults.proxy_helpers import Echo


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    echo = Echo()
    echo.server = await asyncio.start_server(echo.handle, "127.0.0.1", 0)
    port = echo.server.sockets[0].getsockname()[1]
    echo.address = f"127.0.0.1:{port}"
    yield echo
    echo.server.close()
    await echo.server.wait_closed()


REAL_SERVER = os.environ.get("TOXIPROXY_TEST_SERVER_URL", "").rstrip("/")


@dataclass(frozen=True)
class RealServer:
    url: str
    host: str
    port: int


def _wipe(url: str) -> None:
    with httpx.Client(base_url=url, timeout=5) as client:
        for name in client.get("/proxies").json():
            client.delete(f"/proxies/{name}")


@pytest.fixture
async def server() -> AsyncIterator[EmbeddedToxiproxy | RealServer]:
    if REAL_SERVER:
        parts = urlsplit(REAL_SERVER)
        _wipe(REAL_SERVER)
        yield RealServer(url=REAL_SERVER, host=parts.hostname or "", port=parts.port or 8474)
        _wipe(REAL_SERVER)
        return
    async with EmbeddedToxiproxy(host="127.0.0.1", port=0, seed=1) as embedded:
        yield embedded


@pytest.fixture
def tp(server: EmbeddedToxiproxy | RealServer) -> Toxiproxy:
    """toxiproxy-python pointed at the test server (call it through ``sync``)."""
    APIConsumer.host, APIConsumer.port = server.host, server.port
    return Toxiproxy()
