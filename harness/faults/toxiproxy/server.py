"""The embedded server: the API on uvicorn plus the proxies, on the caller's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from harness.clock import Clock, RealClock
from harness.errors import ConfigError, did_you_mean

from .api import build_app
from .collection import ApiError, ProxyCollection
from .proxy import format_address

__all__ = ["EmbeddedToxiproxy", "load_config", "serve"]

_PROXY_KEYS = ("name", "listen", "upstream", "enabled")


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the embedding program owns the signals."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.stopping = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        # uvicorn polls should_exit every 100 ms; waiting on an event makes stop() prompt.
        await self.on_tick(0)
        await self.stopping.wait()


class EmbeddedToxiproxy:
    """A Toxiproxy-compatible server running on the current event loop.

    Usage::

        async with EmbeddedToxiproxy(host="127.0.0.1", port=0, seed=1) as server:
            server.url  # "http://127.0.0.1:NNNN"

    ``seed`` makes jitter, slicer variation and toxicity rolls reproducible.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.collection = ProxyCollection(clock or RealClock(), seed)
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The API's base URL, with the real port once started."""
        return "http://" + format_address(self.host, self.port)

    async def start(self) -> None:
        """Bind the API socket and start serving."""
        sock = _listening_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self.collection),
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            http="h11",
            timeout_graceful_shutdown=1,
            date_header=False,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("uvicorn stopped during startup")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        """Drop every proxy and connection and stop the API."""
        await self.collection.close()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            self._server.stopping.set()
            await self._task
        self._server = self._task = None

    async def populate(self, proxies: list[Any]) -> None:
        """Create proxies as ``POST /populate`` would; raises ApiError on the first failure."""
        async with self.collection.lock:
            _, err = await self.collection.populate(proxies)
        if err is not None:
            raise err

    async def __aenter__(self) -> EmbeddedToxiproxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _listening_socket(host: str, port: int) -> socket.socket:
    # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # IPPROTO_TCP, and without it every response body waits out a 40 ms delayed ACK.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def load_config(path: Path) -> list[dict[str, Any]]:
    """Read a Toxiproxy ``-config`` file (a JSON list of proxies); ConfigError when malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", file=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid JSON: {exc}", file=path, pointer="") from None
    if not isinstance(data, list):
        raise ConfigError("expected a list of proxies", file=path, pointer="/")
    for index, item in enumerate(data):
        _check_proxy(path, index, item)
    return data


def _check_proxy(path: Path, index: int, item: Any) -> None:
    where = f"/{index}"
    if not isinstance(item, dict):
        raise ConfigError("expected an object", file=path, pointer=where)
    for key in item:
        if key not in _PROXY_KEYS:
            hint = did_you_mean(key, _PROXY_KEYS) or f"known keys: {', '.join(_PROXY_KEYS)}"
            raise ConfigError(
                f"unknown key '{key}'", file=path, pointer=f"{where}/{key}", hint=hint
            )
    for key in ("name", "upstream"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise ConfigError(
                f"'{key}' is required and must be a non-empty string",
                file=path,
                pointer=f"{where}/{key}",
                hint='e.g. "upstream": "127.0.0.1:6379"' if key == "upstream" else "",
            )
    if "listen" in item and not isinstance(item["listen"], str):
        raise ConfigError("'listen' must be a string", file=path, pointer=f"{where}/listen")
    if "enabled" in item and not isinstance(item["enabled"], bool):
        raise ConfigError("'enabled' must be true or false", file=path, pointer=f"{where}/enabled")


async def serve(
    host: str,
    port: int,
    config: Path | None,
    *,
    on_ready: Callable[[str], None] | None = None,
    seed: int | None = None,
) -> None:
    """Run an embedded server until cancelled, first creating the proxies in ``config``.

    ``on_ready`` receives the API URL once the server listens and the config is loaded.
    """
    proxies = load_config(config) if config is not None else []
    async with EmbeddedToxiproxy(host=host, port=port, seed=seed) as server:
        try:
            await server.populate(proxies)
        except ApiError as err:
            raise ConfigError(
                err.message, file=config, hint="check 'listen' and 'upstream'"
            ) from None
        if on_ready is not None:
            on_ready(server.url)
        await asyncio.Event().wait()
