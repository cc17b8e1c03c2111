"""Everything one scenario run stands on, set up on loopback and torn down on every exit.

Per run: the reference backends, one Toxiproxy proxy in front of each backend
(so network toxics hit only that backend), a webhook receiver that writes
callbacks into Data Storage (the 202 pattern), and an executor context whose
routes send each flow host to its proxy.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.asgi_server import LoopbackServer
from harness.backends.faults import FaultSet, RecordedRequest
from harness.backends.own import OwnBackends
from harness.backends.server import GUIDE_HOSTS, ReferenceBackends
from harness.clock import Clock
from harness.errors import ConfigError, UnsafeTargetError
from harness.events import EventLog
from harness.executor.context import ExecutorContext
from harness.executor.resolver import FaultyResolver
from harness.executor.storage import DataStorage
from harness.executor.wire import Router, lane_key
from harness.faults.client import ProxyHandle, ToxiproxyControl
from harness.loopback import is_loopback
from harness.scenario.model import Scenario

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "API_KEY", "Environment", "RefusedPort", "environment"]

# Credentials of the reference backends; flows get them as variables, never in a file.
CLIENT_ID = "ivr-client"
CLIENT_SECRET = "ivr-client-secret-0b4d"
API_KEY = "tickets-api-key-7f3a"
BACKEND_NAMES = ("crm", "tickets", "oauth")


class RefusedPort:
    """A loopback port that refuses every connection, held for the run's lifetime.

    The socket is bound (port 0: the kernel picks a free one) and never listens,
    so Linux answers every SYN with a reset: ECONNREFUSED, as from a disabled
    proxy. Because we keep it bound, no concurrent run can take the port, which
    a disable-then-re-enable of a Toxiproxy listener cannot promise (the port is
    free while disabled, and re-binding it can fail with "address already in use").
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        self._sock.close()


@dataclass(kw_only=True)
class Environment:
    backends: ReferenceBackends
    control: ToxiproxyControl
    proxies: dict[str, ProxyHandle]
    ctx: ExecutorContext
    receiver_url: str
    upstreams: dict[str, str] = field(default_factory=dict)
    own: OwnBackends | None = None
    secrets: dict[str, str] = field(default_factory=dict)

    def fault_set(self, target: str) -> FaultSet:
        """The HTTP fault set behind a target: a project host, a reference name or its host."""
        if self.own is not None and target in self.own.urls:
            return self.own.faults(target)
        by_host = {host: name for name, host in GUIDE_HOSTS.items()}
        return self.backends.faults(by_host.get(target, target))

    def journal(self) -> dict[str, list[RecordedRequest]]:
        """What every backend of the run received, by reference name, by the host a flow
        calls, and by project host."""
        out: dict[str, list[RecordedRequest]] = {}
        for name, host in GUIDE_HOSTS.items():
            out[name] = out[host] = self.backends.requests(name)
        if self.own is not None:
            for host in self.own.urls:
                out[host] = self.own.requests(host)
        return out

    def keep_journal(self, keep: bool) -> None:
        """Whether every backend keeps its record of each request (`journal`)."""
        logs = list(self.backends.state.logs.values())
        if self.own is not None:
            logs += self.own.logs()
        for log in logs:
            log.keeping = keep

    def retain_records(self, limit: int | None) -> None:
        """Keep only the most recent `limit` tickets, jobs and idempotency keys of the
        reference ticket system (None: all of them)."""
        self.backends.state.retain = limit

    def host_of(self, target: str) -> str:
        """The flow host a target names (`crm` -> `api.crm-provider.com`)."""
        return GUIDE_HOSTS.get(target, target)
    routes: dict[str, str] = field(default_factory=dict)  # live: flow host -> base URL
    refused: RefusedPort | None = None
    owners: dict[str, str] = field(default_factory=dict)  # flow host -> proxy name
    # Step-scoped faults: (target, step) -> the step's own proxy to the target's backend,
    # and the live lane routes the executor's router reads (wire.lane_key -> base URL).
    lane_proxies: dict[tuple[str, str], ProxyHandle] = field(default_factory=dict)
    lanes: dict[str, str] = field(default_factory=dict)

    def reroute(self, name: str, base_url: str | None, *, step: str = "") -> None:
        """Send the flow hosts of proxy `name` to `base_url` (None: back to the proxy);
        with `step`, only that step's lane."""
        if step:
            proxy = self.lane_proxies[(name, step)]
            for key in self._lane_keys(name, step):
                self.lanes[key] = base_url or f"http://{proxy.listen}"
            return
        proxy = self.proxies[name]  # `name` may be the proxy's name or a flow host
        for host, owner in self.owners.items():
            if self.proxies[owner] is proxy:
                self.routes[host] = base_url or f"http://{proxy.listen}"

    def proxy_for(self, target: str, step: str = "") -> ProxyHandle:
        """The proxy a network fault on `target` acts on: the step's lane, or the host's."""
        return self.lane_proxies[(target, step)] if step else self.proxies[target]

    def _lane_keys(self, target: str, step: str) -> list[str]:
        proxy = self.proxies[target]
        hosts = [host for host, owner in self.owners.items() if self.proxies[owner] is proxy]
        return [lane_key(host, step) for host in hosts]

    async def open_lane(self, target: str, step: str) -> None:
        """A proxy of its own for `step`'s requests to `target`, so that a network fault on
        it never touches the host's other steps."""
        if (target, step) in self.lane_proxies:
            return
        host_proxy = self.proxies[target]
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", step)[:80]
        lane = await self.control.create_proxy(
            f"{host_proxy.short_name}--{slug}", host_proxy.upstream
        )
        self.lane_proxies[(target, step)] = lane
        self.reroute(target, None, step=step)

    @property
    def resolver(self) -> FaultyResolver:
        resolver = self.ctx.resolver
        assert isinstance(resolver, FaultyResolver)  # noqa: S101 - built that way below
        return resolver

    def credentials(self) -> dict[str, Any]:
        return {
            "oauth_client_id": CLIENT_ID,
            "oauth_client_secret": CLIENT_SECRET,
            "api_key_variable": API_KEY,
            **self.secrets,
        }


def _receiver_app(storage: DataStorage) -> Starlette:
    async def receive(request: Request) -> JSONResponse:
        prefix = request.path_params["prefix"]
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        key = body.get("correlationId") if isinstance(body, dict) else None
        if not key:
            return JSONResponse({"error": "correlationId is required"}, status_code=400)
        storage.set(f"{prefix}:{key}", body)
        return JSONResponse({"stored": f"{prefix}:{key}"}, status_code=202)

    return Starlette(routes=[Route("/webhooks/{prefix}", receive, methods=["POST"])])


def _hostport(url: str) -> str:
    parts = urlsplit(url)
    if not parts.hostname:
        raise ConfigError(f"not a base URL: {url!r}", hint="use http://HOST:PORT")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


@contextlib.asynccontextmanager
async def environment(
    scenario: Scenario,
    *,
    toxiproxy_url: str,
    run_id: str,
    clock: Clock,
    events: EventLog,
    allow_non_loopback: bool = False,
) -> AsyncIterator[Environment]:
    """Start backends, proxies and the receiver; remove all of it on the way out."""
    storage = DataStorage(clock.monotonic)
    control = ToxiproxyControl(toxiproxy_url, run_id)
    async with contextlib.AsyncExitStack() as stack:
        backends = await stack.enter_async_context(
            ReferenceBackends(clients={CLIENT_ID: CLIENT_SECRET}, api_key=API_KEY, clock=clock)
        )
        receiver = LoopbackServer(_receiver_app(storage), name="webhook-receiver")
        receiver_url = await receiver.start()
        stack.push_async_callback(receiver.stop)
        stack.push_async_callback(control.cleanup)
        own: OwnBackends | None = None
        if scenario.hosts:
            own = await stack.enter_async_context(
                OwnBackends(scenario.hosts, clock=clock, allow_non_loopback=allow_non_loopback)
            )
        upstreams = _upstreams(scenario.backends, backends, allow_non_loopback)
        for host, url in (own.urls if own is not None else {}).items():
            upstreams[host] = (host.replace(".", "-"), url)
        proxies: dict[str, ProxyHandle] = {}
        routes: dict[str, str] = {}
        for host, (name, upstream) in upstreams.items():
            if name not in proxies:
                proxies[name] = await control.create_proxy(name, _hostport(upstream))
            routes[host] = f"http://{proxies[name].listen}"
            # A fault target may name the host the flow calls, not only the proxy.
            proxies[host] = proxies[name]
        refused = RefusedPort()
        stack.callback(refused.close)
        events.redactor.add(CLIENT_SECRET, API_KEY, *scenario.secrets.values())
        ctx = ExecutorContext.create(
            clock=clock,
            routes=routes,
            resolver=FaultyResolver(clock),
            events=events,
            storage=storage,
            allow_non_loopback=allow_non_loopback,
            trace=True,
        )
        stack.push_async_callback(ctx.aclose)
        # The router reads these dicts live, so a disable fault can re-route a backend.
        lanes: dict[str, str] = {}
        ctx.router = Router(routes=routes, allow_non_loopback=allow_non_loopback, lanes=lanes)
        env = Environment(
            backends=backends,
            control=control,
            proxies=proxies,
            ctx=ctx,
            receiver_url=receiver_url,
            upstreams={name: up for name, up in upstreams.values()},
            own=own,
            secrets=dict(scenario.secrets),
            routes=routes,
            refused=refused,
            owners={host: name for host, (name, _) in upstreams.items()},
            lanes=lanes,
        )
        for fault in scenario.faults:
            if fault.step and fault.kind in ("toxic", "disable"):
                await env.open_lane(fault.target, fault.step)
        yield env


def _upstreams(
    overrides: Mapping[str, str], backends: ReferenceBackends, allow_non_loopback: bool
) -> dict[str, tuple[str, str]]:
    """flow host -> (proxy name, upstream base URL)."""
    chosen: dict[str, tuple[str, str]] = {
        host: (name, backends.urls[name]) for name, host in GUIDE_HOSTS.items()
    }
    for host, target in overrides.items():
        if target in BACKEND_NAMES:
            chosen[host] = (target, backends.urls[target])
            continue
        hostname = urlsplit(target).hostname or ""
        if not allow_non_loopback and not is_loopback(hostname):
            raise UnsafeTargetError(
                f"backend for {host} is {target}, outside loopback; allow non-loopback targets "
                "explicitly (--allow-non-loopback) to run chaos against it"
            )
        chosen[host] = (host.replace(".", "-"), target)
    return chosen
