"""A team's own backends for one run: a stub per spec, or a proxy per real base URL.

Keyed by the host the flows call (``api.orders.example.com``), which is also the
name a scenario's fault ``target`` uses. Each host gets its own loopback server
and its own fault set taking every kind of the vocabulary::

    async with OwnBackends(config.backends, clock=clock) as own:
        own.urls["api.orders.example.com"]      # http://127.0.0.1:PORT
        own.faults("api.orders.example.com").add({"kind": "status", "status": 503})
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import Self

import httpx

from harness.asgi_server import LoopbackServer
from harness.clock import Clock
from harness.config import BackendEntry
from harness.errors import ConfigError, HarnessError

from .faults import FaultSet, RecordedRequest, RequestLog
from .faultspec import KINDS
from .stub import build_stub_app
from .upstream import build_proxy_app, new_client, probe_upstream
from .webhook import WebhookSender

__all__ = ["ALL_KINDS", "OwnBackends"]

# A stub or proxy answers whatever the flow asks, so every kind makes sense on it.
ALL_KINDS = frozenset(KINDS)


class OwnBackends:
    """Stubs and proxies for a team's backends, started together on loopback."""

    def __init__(
        self,
        entries: Mapping[str, BackendEntry],
        *,
        clock: Clock,
        seed: int = 0,
        allow_non_loopback: bool = False,
    ) -> None:
        self.entries = dict(entries)
        self.clock = clock
        self.seed = seed
        self.allow_non_loopback = allow_non_loopback
        self.webhooks = WebhookSender(clock)
        self.urls: dict[str, str] = {}
        self.kinds: dict[str, str] = {}  # host -> "stub" | "proxy"
        self._faults: dict[str, FaultSet] = {}
        self._logs: dict[str, RequestLog] = {}
        self._servers: list[LoopbackServer] = []
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        try:
            # Every upstream is probed before anything starts: unreachable is exit 2.
            for host, entry in self.entries.items():
                if entry.base_url:
                    await probe_upstream(
                        host, entry.base_url, allow_non_loopback=self.allow_non_loopback
                    )
            for index, (host, entry) in enumerate(self.entries.items()):
                await self._start(host, entry, index)
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _start(self, host: str, entry: BackendEntry, index: int) -> None:
        faults = FaultSet(host, allowed_kinds=ALL_KINDS, seed=self.seed + index)
        log = RequestLog()
        self._faults[host], self._logs[host] = faults, log
        if entry.base_url:
            if self._client is None:
                self._client = new_client()
            app = build_proxy_app(
                entry.base_url, name=host, faults=faults, log=log, clock=self.clock,
                sender=self.webhooks, client=self._client,
            )  # fmt: skip
            self.kinds[host] = "proxy"
        elif entry.spec is not None:
            app = build_stub_app(
                entry.spec, name=host, faults=faults, log=log, clock=self.clock,
                sender=self.webhooks, seed=self.seed,
            )  # fmt: skip
            self.kinds[host] = "stub"
        else:
            raise ConfigError(f"backend {host} has neither a spec nor a base_url")
        server = LoopbackServer(app, name=host)
        self._servers.append(server)
        self.urls[host] = await server.start()

    async def aclose(self) -> None:
        """Stop every server and pending callback (idempotent)."""
        servers, self._servers = self._servers, []
        for server in servers:  # first: a close cancelled at any await leaves none running
            server.request_stop()
        await self.webhooks.aclose()
        await asyncio.gather(*(server.stop() for server in servers))
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def faults(self, host: str) -> FaultSet:
        """The fault set of the backend behind `host`."""
        if host not in self._faults:
            raise HarnessError(f"no backend of this project serves {host!r}")
        return self._faults[host]

    def logs(self) -> list[RequestLog]:
        """Each backend's request log."""
        return list(self._logs.values())

    def requests(self, host: str) -> list[RecordedRequest]:
        """Every request the backend behind `host` answered, oldest first."""
        return self._logs[host].entries() if host in self._logs else []
