"""Fixtures for the fault-proxy tests: an upstream echo server, an embedded server, a client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

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


@pytest.fixture
async def server() -> AsyncIterator[EmbeddedToxiproxy]:
    async with EmbeddedToxiproxy(host="127.0.0.1", port=0, seed=1) as server:
        yield server


@pytest.fixture
def tp(server: EmbeddedToxiproxy) -> Toxiproxy:
    """toxiproxy-python pointed at the embedded server (call it through ``sync``)."""
    APIConsumer.host, APIConsumer.port = server.host, server.port
    return Toxiproxy()
