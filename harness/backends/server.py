"""Run the reference backends as real HTTP servers on the running asyncio loop.

One uvicorn server per backend, each on its own port, so that a Toxiproxy
proxy can sit in front of each one separately::

    async with ReferenceBackends(seed=0, api_key="k", clients={"ivr-client": "s"}) as b:
        b.urls["crm"]                      # http://127.0.0.1:PORT
        b.hosts["api.crm-provider.com"]    # the same base URL, keyed by the guide's host
        b.faults("crm").add({"kind": "status", "status": 503, "times": 2})
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import Self

from harness.asgi_server import LoopbackServer
from harness.clock import Clock
from harness.errors import HarnessError, UnsafeTargetError
from harness.loopback import is_loopback

from .app import build_app
from .faults import FaultSet, RecordedRequest
from .state import BACKENDS, BackendConfig, SharedState
from .webhook import Delivery, WebhookSender

__all__ = ["GUIDE_HOSTS", "ReferenceBackends"]

GUIDE_HOSTS: Mapping[str, str] = {
    "crm": "api.crm-provider.com",
    "tickets": "api.service-provider.com",
    "oauth": "auth.crm-provider.com",
}


class ReferenceBackends:
    """The CRM, ticket service and OAuth server, started together, sharing one state."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        seed: int = 0,
        api_key: str = "test-api-key",
        clients: Mapping[str, str] | None = None,
        token_ttl_s: int = 3600,
        ports: Mapping[str, int] | None = None,
        allow_non_loopback: bool = False,
        clock: Clock | None = None,
    ) -> None:
        if not allow_non_loopback and not is_loopback(host):
            raise UnsafeTargetError(
                f"refusing to serve the reference backends on non-loopback host {host!r}; "
                "pass allow_non_loopback=True (CLI: --allow-non-loopback) if you mean it"
            )
        config = BackendConfig(
            api_key=api_key,
            clients=dict(clients) if clients is not None else {"ivr-client": "secret"},
            token_ttl_s=token_ttl_s,
            seed=seed,
        )
        self.host = host
        self.state = SharedState(config, clock=clock)
        self.webhooks = WebhookSender(self.state.clock)
        self._ports = dict(ports or {})
        self._servers: dict[str, LoopbackServer] = {}
        self.urls: dict[str, str] = {}
        self.hosts: dict[str, str] = {}

    async def __aenter__(self) -> Self:
        try:
            for name in BACKENDS:
                await self._start(name)
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

    async def _start(self, name: str) -> None:
        server = LoopbackServer(
            build_app(name, self.state, self.webhooks),
            name=name,
            host=self.host,
            port=self._ports.get(name, 0),
        )
        self._servers[name] = server
        self.urls[name] = await server.start()
        self.hosts[GUIDE_HOSTS[name]] = self.urls[name]

    async def aclose(self) -> None:
        """Cancel pending webhooks and stop every server (idempotent)."""
        servers = list(self._servers.values())
        self._servers.clear()
        for server in servers:  # first: a close cancelled at any await leaves none running
            server.request_stop()
        await self.webhooks.aclose()
        await asyncio.gather(*(server.stop() for server in servers))

    def faults(self, name: str) -> FaultSet:
        """The fault set of backend ``name``: ``.add(spec)``, ``.clear()``, ``.active``."""
        return self.state.faults[_check(name)]

    def requests(self, name: str) -> list[RecordedRequest]:
        """Every request backend ``name`` answered so far, oldest first."""
        return self.state.logs[_check(name)].entries()

    @property
    def token_requests(self) -> int:
        """How many times ``POST /oauth/token`` was called."""
        return self.state.token_requests

    @property
    def deliveries(self) -> list[Delivery]:
        """Every webhook callback attempted so far."""
        return list(self.webhooks.deliveries)

    def reset(self) -> None:
        """Clear faults and request logs on every backend (data and tokens stay)."""
        for name in BACKENDS:
            self.state.faults[name].clear()
            self.state.logs[name].clear()


def _check(name: str) -> str:
    if name not in BACKENDS:
        raise HarnessError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    return name
