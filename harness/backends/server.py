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
import contextlib
import ipaddress
import socket
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Self

import uvicorn

from harness.clock import Clock
from harness.errors import HarnessError, UnsafeTargetError

from .app import build_app
from .faults import FaultSet, RecordedRequest
from .state import BACKENDS, BackendConfig, SharedState
from .webhook import Delivery, WebhookSender

__all__ = ["GUIDE_HOSTS", "ReferenceBackends", "is_loopback"]

GUIDE_HOSTS: Mapping[str, str] = {
    "crm": "api.crm-provider.com",
    "tickets": "api.service-provider.com",
    "oauth": "auth.crm-provider.com",
}
_START_TIMEOUT_S = 10.0


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Ctrl-C belongs to whoever owns the loop (the CLI or pytest), not to each server.
        yield


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
        self._servers: dict[str, _Server] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
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
        sock = _bind(self.host, self._ports.get(name, 0))
        config = uvicorn.Config(
            build_app(name, self.state, self.webhooks),
            lifespan="off",
            log_level="warning",
            log_config=None,
            access_log=False,
            # A dribbling response must not hold shutdown hostage.
            timeout_graceful_shutdown=1,
        )
        server = _Server(config)
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        self._servers[name], self._tasks[name] = server, task
        async with asyncio.timeout(_START_TIMEOUT_S):
            while not server.started:
                if task.done():
                    raise HarnessError(f"backend {name!r} stopped while starting")
                await asyncio.sleep(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.urls[name] = f"http://{host}:{port}"
        self.hosts[GUIDE_HOSTS[name]] = self.urls[name]

    async def aclose(self) -> None:
        """Cancel pending webhooks and stop every server (idempotent)."""
        await self.webhooks.aclose()
        for server in self._servers.values():
            server.should_exit = True
        tasks = list(self._tasks.values())
        self._servers.clear()
        self._tasks.clear()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise HarnessError(f"a backend failed while stopping: {result!r}") from result

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


def _bind(host: str, port: int) -> socket.socket:
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
