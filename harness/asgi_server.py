"""Serve an ASGI app with uvicorn on the running loop, bound by us, port 0 friendly."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from harness.errors import HarnessError

__all__ = ["LoopbackServer", "bind_socket"]

_START_TIMEOUT_S = 10.0


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Ctrl-C belongs to whoever owns the loop (the CLI or pytest), not to each server.
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound socket; binding here turns 'port in use' into our error, not uvicorn's exit."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        raise HarnessError(f"cannot resolve {host!r}: {exc}") from exc
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise HarnessError(f"cannot listen on {host}:{port}: {exc}") from exc
    return sock


class LoopbackServer:
    """One uvicorn server for `app` on `host:port` (0 picks a free port)."""

    def __init__(self, app: Any, *, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app, self.name, self.host, self.port = app, name, host, port
        self.url = ""
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        sock = bind_socket(self.host, self.port)
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_level="warning",
            log_config=None,
            access_log=False,
            # A dribbling response must not hold shutdown hostage.
            timeout_graceful_shutdown=1,
        )
        server = _Server(config)
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        self._server, self._task = server, task
        async with asyncio.timeout(_START_TIMEOUT_S):
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                if task.done():
                    raise HarnessError(f"server {self.name!r} stopped while starting")
                await asyncio.sleep(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        task, self._server, self._task = self._task, None, None
        try:
            await task
        except Exception as exc:
            raise HarnessError(f"server {self.name!r} failed while stopping: {exc!r}") from exc
