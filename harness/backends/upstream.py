"""A fault-injecting reverse proxy in front of a team's real backend.

Requests are forwarded to the upstream with httpx; the app sits behind the same
:class:`FaultMiddleware` as every other backend, so a 5xx storm or a schema drift
is applied on the way through, on the same schedule. The upstream is probed
before any fault: a backend that does not answer is the harness's input being
wrong (exit 2), not a resilience failure of the flow.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from harness.clock import Clock
from harness.errors import UnreachableError, UnsafeTargetError
from harness.loopback import is_loopback

from .domain import domain_fault, emptied
from .faults import FaultSet, RequestLog, control_routes
from .middleware import FaultMiddleware
from .webhook import WebhookSender

__all__ = ["build_proxy_app", "probe_upstream"]

# Hop-by-hop headers (RFC 9110 section 7.6.1) and what httpx already decoded.
_DROP = frozenset(
    {
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
        "upgrade", "host", "content-length", "content-encoding", "x-ivr-harness-trace",
    }
)  # fmt: skip
_PROBE_TIMEOUT_S = 3.0
# The executor's own deadline is what bounds a call; this only stops a leak.
_FORWARD_TIMEOUT_S = 120.0
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def probe_upstream(host: str, base_url: str, *, allow_non_loopback: bool = False) -> None:
    """Raise a HarnessError unless `base_url` answers HTTP at all (any status will do)."""
    hostname = urlsplit(base_url).hostname or ""
    if not allow_non_loopback and not is_loopback(hostname):
        raise UnsafeTargetError(
            f"backend for {host} is {base_url}, outside loopback; allow non-loopback targets "
            "explicitly (--allow-non-loopback) to run chaos against it"
        )
    try:
        # One deadline for the whole probe: httpx's timeout is per read, and an upstream
        # dribbling a byte every half second would stretch it to a minute.
        async with asyncio.timeout(_PROBE_TIMEOUT_S):
            async with httpx.AsyncClient(timeout=_PROBE_TIMEOUT_S, trust_env=False) as client:
                await client.get(base_url)
    except TimeoutError:
        raise UnreachableError(
            f"backend for {host} at {base_url} did not answer within {_PROBE_TIMEOUT_S:.0f} s; "
            "start it, or fix base_url in ivr-harness.toml / --base-url"
        ) from None
    except (httpx.HTTPError, OverflowError, ValueError) as exc:  # a port past 65535
        reason = str(exc) or type(exc).__name__
        raise UnreachableError(
            f"backend for {host} at {base_url} does not answer ({reason}); "
            "start it, or fix base_url in ivr-harness.toml / --base-url"
        ) from None


def build_proxy_app(
    base_url: str,
    *,
    name: str,
    faults: FaultSet,
    log: RequestLog,
    clock: Clock,
    sender: WebhookSender,
    client: httpx.AsyncClient,
) -> Starlette:
    """Forward everything to `base_url`, behind the fault middleware."""
    base = base_url.rstrip("/")
    jobs: list[str] = []

    async def forward(request: Request) -> Response:
        kind, canned = domain_fault(faults, request, sender, jobs)
        if canned is not None:
            return canned
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _DROP]
        try:
            async with asyncio.timeout(_FORWARD_TIMEOUT_S):  # in all, not per read
                upstream = await client.request(
                    request.method,
                    base + request.url.path,
                    params=request.url.query or None,
                    headers=headers,
                    content=await request.body(),
                )
        except (httpx.HTTPError, TimeoutError) as exc:
            # The probe passed, so this is the backend failing mid-run: a gateway answer.
            body = {"error": "bad_gateway", "message": type(exc).__name__}
            return JSONResponse(body, status_code=502)
        content = upstream.content
        if kind == "empty":
            content = _emptied_bytes(content)
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP}
        return Response(content, status_code=upstream.status_code, headers=out)

    routes: list[BaseRoute] = [
        *control_routes(faults, log),
        Route("/{path:path}", forward, methods=_METHODS),
    ]
    middleware = Middleware(FaultMiddleware, backend=name, faults=faults, log=log, clock=clock)
    app = Starlette(routes=routes, middleware=[middleware])
    app.router.redirect_slashes = False
    return app


def new_client() -> httpx.AsyncClient:
    """The client a proxy forwards with: no environment proxies, no redirects followed."""
    return httpx.AsyncClient(timeout=_FORWARD_TIMEOUT_S, trust_env=False, follow_redirects=False)


def _emptied_bytes(content: bytes) -> bytes:
    try:
        document = json.loads(content)
    except ValueError:
        return content
    return json.dumps(emptied(document)).encode()
