"""One HTTP exchange on the wire: route, resolve, connect, send, read up to the cap.

This is the I/O boundary. :func:`exchange` routes the flow's URL, resolves
the host with the executor's own resolver (where DNS faults live) and refuses
non-loopback targets; a :class:`Wire` then sends the request and reads the
response. The real wire is aiohttp (:class:`AiohttpWire`); its exceptions
and OS errors are translated here into :class:`WireError` with one of the
executor's outcome classes, so nothing above it handles transport exceptions.

Why aiohttp and not httpx: with a hundred requests in flight an httpx request
costs this 2-core machine about 4.4 ms of CPU (its pool walks every connection
twice per request), an aiohttp request about 0.23 ms (`make bench`, `wire_cpu`;
ARCHITECTURE.md has the story). That is what lets one machine hold thousands of
simulated callers. httpx remains what the tests' fast in-process layer scripts
responses with (`tests/fixtures/inprocess.py`).
"""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import yarl

from harness.errors import UnsafeTargetError
from harness.executor.resolver import DnsFailure, Resolver
from harness.flow.profile import CXONE
from harness.loopback import is_loopback

__all__ = [
    "TRACE_HEADER",
    "AiohttpWire",
    "Router",
    "Wire",
    "WireError",
    "WireRequest",
    "WireResponse",
    "exchange",
    "lane_key",
]

# Which call, step and attempt sent a request, for the stand-in backends' journal and
# step-scoped faults (`call=...;step=FLOW/STEP;attempt=N`). Sent only inside scenario
# runs; the upstream proxy in front of a team's real backend removes it.
TRACE_HEADER = "X-IVR-Harness-Trace"


def lane_key(host: str, step: str) -> str:
    """The key of a step's own route to `host` (`step` is `FLOW/STEP`)."""
    return f"{host.lower()} {step}"


class WireError(Exception):
    """An exchange that ended without a complete response."""

    def __init__(self, outcome: str, code: str, detail: str = "") -> None:
        self.outcome = outcome  # connection_error | dns_error
        self.code = code  # ECONNREFUSED, ECONNRESET, NXDOMAIN, ...
        super().__init__(f"{code}: {detail}" if detail else code)


@dataclass(frozen=True, slots=True, kw_only=True)
class WireRequest:
    """A request ready to send: `url` names the address to connect to."""

    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes | None
    server_hostname: str | None = None  # the flow's host, for SNI, when `url` names an address


@dataclass(frozen=True, slots=True, kw_only=True)
class WireResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False  # the body exceeded the cap; `body` holds the first cap+1 bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Router:
    """Rewrites flow hosts (api.crm-provider.com) to base URLs (http://127.0.0.1:5555).

    `lanes` route one step's requests to a host elsewhere (`lane_key(host, "FLOW/STEP")`):
    a fault aimed at one step rides its own proxy, and the host's other steps never see it.
    """

    routes: Mapping[str, str] = field(default_factory=dict)
    allow_non_loopback: bool = False
    lanes: Mapping[str, str] = field(default_factory=dict)

    def target(self, url: str, lane: str = "") -> tuple[str, str]:
        """(logical host, URL to connect to) for a flow URL sent by step `lane` (FLOW/STEP)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        base = self._lane(host, lane) if lane and self.lanes else None
        base = base or self.routes.get(host) or self.routes.get(parts.netloc.lower())
        if base is None:
            return host, url
        b = urlsplit(base)
        path = (b.path.rstrip("/") + parts.path) if b.path not in ("", "/") else parts.path
        return host, urlunsplit((b.scheme, b.netloc, path, parts.query, ""))


    def _lane(self, host: str, lane: str) -> str | None:
        # A lane is named by FLOW/STEP or by the bare step id.
        return self.lanes.get(lane_key(host, lane)) or self.lanes.get(
            lane_key(host, lane.rpartition("/")[2])
        )


class Wire(Protocol):
    """Sends a :class:`WireRequest` and reads its response, at most `cap_bytes + 1` of the body.

    Raises :class:`WireError` for an exchange that ends without a response.
    """

    async def send(self, request: WireRequest, cap_bytes: int) -> WireResponse: ...

    async def aclose(self) -> None: ...


async def exchange(
    wire: Wire,
    *,
    resolver: Resolver,
    router: Router,
    method: str,
    url: str,
    headers: Mapping[str, str],
    content: bytes | None,
    cap_bytes: int,
    lane: str = "",
    max_url_chars: int = CXONE.max_url_chars,
) -> WireResponse:
    """Route and resolve the flow's URL, then send one request on `wire`; `lane` names
    the step sending it (FLOW/STEP), for its own route and DNS faults.

    A URL the platform could not send ends the exchange first, as `EINVALIDURL`.
    """
    _refuse_unsendable(url, max_url_chars)
    try:
        logical_host, target = router.target(url, lane)
        parts = urlsplit(target)
        port = parts.port
    except ValueError as exc:
        raise WireError("connection_error", "EINVALIDURL", str(exc)) from exc
    connect_host = parts.hostname or ""
    try:
        if target != url:
            await resolver.routed(logical_host, lane)
            address = await resolver.resolve(connect_host)
        else:
            address = await resolver.resolve(logical_host, lane)
    except DnsFailure as exc:
        raise WireError("dns_error", exc.code, exc.host) from exc
    if not router.allow_non_loopback and not is_loopback(address):
        raise UnsafeTargetError(
            f"{logical_host} resolves to {address}, outside loopback; "
            "map it with --base-url HOST=http://127.0.0.1:PORT or allow non-loopback targets"
        )
    send_headers = dict(headers)
    server_hostname = None
    if address != connect_host:
        # Connect to the address our resolver chose, keeping the name for Host and SNI.
        host = f"[{address}]" if ":" in address else address
        netloc = f"{host}:{port}" if port else host
        target = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        if not any(k.lower() == "host" for k in send_headers):
            send_headers["Host"] = parts.netloc
        server_hostname = connect_host
    request = WireRequest(
        method=method,
        url=target,
        headers=send_headers,
        content=content,
        server_hostname=server_hostname,
    )
    return await wire.send(request, cap_bytes)


# Raw C0 controls and DEL: RFC 3986 allows them in no part of a URI, and a client either
# refuses them (httpx, Python's http.client) or rewrites the URL the flow built (aiohttp,
# browsers). Neither sends what the flow asked for, so the harness fails closed.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _refuse_unsendable(url: str, max_chars: int) -> None:
    """Raise `EINVALIDURL` for a flow URL the platform cannot send, before any I/O.

    The length is the URL's as it goes on the wire (percent-encoded, no fragment), the
    flow's own URL, not the loopback address it is routed to.
    """
    found = _CONTROL.search(url)
    if found:
        at = found.start()
        raise WireError("connection_error", "EINVALIDURL", f"control character at {at}")
    try:
        wire_form = str(yarl.URL(url).with_fragment(None))
    except (ValueError, TypeError) as exc:
        raise WireError("connection_error", "EINVALIDURL", str(exc)) from exc
    if len(wire_form) > max_chars:
        detail = f"{len(wire_form)} characters, over the platform's {max_chars}"
        raise WireError("connection_error", "EINVALIDURL", detail)


class AiohttpWire:
    """The real wire: one aiohttp session, at most `max_connections` connections at once.

    No timeouts of its own (the executor enforces each attempt's deadline by
    cancelling it), no redirects, no cookie jar shared between callers, no
    proxy from the environment.
    """

    def __init__(self, *, max_connections: int) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0),
                timeout=aiohttp.ClientTimeout(total=None),
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                # A body's Content-Type is the flow's to set, as the platform sends it.
                skip_auto_headers=("Content-Type",),
            )
        return self._session

    async def send(self, request: WireRequest, cap_bytes: int) -> WireResponse:
        session = self._open()
        try:
            url = yarl.URL(request.url)
        except (ValueError, TypeError) as exc:  # the caller's data made the URL unsendable
            raise WireError("connection_error", "EINVALIDURL", str(exc)) from exc
        tls = url.scheme == "https" and request.server_hostname is not None
        try:
            async with session.request(
                request.method,
                url,
                headers=request.headers,
                data=request.content,
                allow_redirects=False,
                server_hostname=request.server_hostname if tls else None,
            ) as response:
                body, truncated = await _read_capped(response.content, cap_bytes)
                headers = {k.lower(): v for k, v in response.headers.items()}
                return WireResponse(
                    status=response.status, headers=headers, body=body, truncated=truncated
                )
        except aiohttp.InvalidURL as exc:
            raise WireError("connection_error", "EINVALIDURL", str(exc)) from exc
        except aiohttp.ClientConnectorError as exc:
            raise WireError("connection_error", _errno_name(exc, "ECONNREFUSED"), str(exc)) from exc
        except (
            aiohttp.ClientResponseError
        ) as exc:  # not HTTP: a status line or header we cannot parse
            raise WireError("connection_error", "EPROTO", exc.message) from exc
        except (aiohttp.ClientError, OSError) as exc:  # reset, closed early, truncated body
            raise WireError("connection_error", _errno_name(exc, "ECONNRESET"), str(exc)) from exc
        except ValueError as exc:  # a header value the caller's data made unsendable
            raise WireError("connection_error", "EINVALIDHEADER", str(exc)) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


async def _read_capped(stream: aiohttp.StreamReader, cap: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_any():
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            return b"".join(chunks)[: cap + 1], True
    return b"".join(chunks), False


def _errno_name(exc: BaseException, default: str) -> str:
    cause: BaseException | None = exc
    for _ in range(8):  # a short chain; never a cycle
        if cause is None:
            break
        number = getattr(cause, "errno", None)
        if isinstance(number, int) and number in errno.errorcode:
            return errno.errorcode[number]
        cause = getattr(cause, "os_error", None) or cause.__cause__ or cause.__context__
    return default
