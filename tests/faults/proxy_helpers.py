"""Helpers shared by the fault-proxy tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class Echo:
    """A TCP echo server on 127.0.0.1 that counts its open connections."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.open = 0
        self.address = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            self.open -= 1
            writer.close()


async def sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking toxiproxy-python call off the loop the server runs on."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def connect(listen: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, _, port = listen.rpartition(":")
    return await asyncio.open_connection(host, int(port))


async def read_all(reader: asyncio.StreamReader, limit_s: float = 5.0) -> bytes:
    return await asyncio.wait_for(reader.read(), limit_s)


_ROOT = Path(__file__).resolve().parents[2]


async def start_serve(
    *args: str, stderr: bool = False, **kwargs: Any
) -> tuple[asyncio.subprocess.Process, str]:
    """`ivr-harness toxiproxy serve --port 0 ARGS` in a real process, and its API URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "harness", "toxiproxy", "serve", "--port", "0", *args),
        cwd=_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE if stderr else None,
        **kwargs,
    )
    assert process.stdout is not None
    url = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
    return process, url
