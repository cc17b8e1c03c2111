"""One HTTP exchange on the wire: route, resolve, connect, send, read up to the cap.

This is the I/O boundary: httpx and OS errors are translated here into
:class:`WireError` with one of the executor's outcome classes, so nothing
above it handles transport exceptions.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx

from harness.errors import UnsafeTargetError
from harness.executor.resolver import DnsFailure, Resolver
from harness.loopback import is_loopback

__all__ = ["Router", "WireError", "WireResponse", "exchange"]


class WireError(Exception):
    """An exchange that ended without a complete response."""

    def __init__(self, outcome: str, code: str, detail: str = "") -> None:
        self.outcome = outcome  # connection_error | dns_error
        self.code = code  # ECONNREFUSED, ECONNRESET, NXDOMAIN, ...
        super().__init__(f"{code}: {detail}" if detail else code)


@dataclass(frozen=True, slots=True, kw_only=True)
class WireResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False  # the body exceeded the cap; `body` holds the first cap+1 bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Router:
    """Rewrites flow hosts (api.crm-provider.com) to base URLs (http://127.0.0.1:5555)."""

    routes: Mapping[str, str] = field(default_factory=dict)
    allow_non_loopback: bool = False

    def target(self, url: str) -> tuple[str, str]:
        """(logical host, URL to connect to) for a flow URL."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        base = self.routes.get(host) or self.routes.get(parts.netloc.lower())
        if base is None:
            return host, url
        b = urlsplit(base)
        path = (b.path.rstrip("/") + parts.path) if b.path not in ("", "/") else parts.path
        return host, urlunsplit((b.scheme, b.netloc, path, parts.query, ""))


async def exchange(
    client: httpx.AsyncClient,
    *,
    resolver: Resolver,
    router: Router,
    method: str,
    url: str,
    headers: Mapping[str, str],
    content: bytes | None,
    cap_bytes: int,
) -> WireResponse:
    """Send one request and read its body, at most `cap_bytes + 1` of it."""
    try:
        logical_host, target = router.target(url)
    except ValueError as exc:
        raise WireError("connection_error", "EINVALIDURL", str(exc)) from exc
    parts = urlsplit(target)
    connect_host = parts.hostname or ""
    try:
        if target != url:
            await resolver.routed(logical_host)
            address = await resolver.resolve(connect_host)
        else:
            address = await resolver.resolve(logical_host)
    except DnsFailure as exc:
        raise WireError("dns_error", exc.code, exc.host) from exc
    if not router.allow_non_loopback and not is_loopback(address):
        raise UnsafeTargetError(
            f"{logical_host} resolves to {address}, outside loopback; "
            "map it with --base-url HOST=http://127.0.0.1:PORT or allow non-loopback targets"
        )
    send_headers = dict(headers)
    extensions = {}
    if address != connect_host:
        # Connect to the address our resolver chose, keeping the name for Host and SNI.
        host = f"[{address}]" if ":" in address else address
        netloc = f"{host}:{parts.port}" if parts.port else host
        target = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        send_headers.setdefault("Host", parts.netloc)
        extensions["sni_hostname"] = connect_host
    try:
        request = client.build_request(
            method, target, headers=send_headers, content=content, extensions=extensions
        )
    except httpx.InvalidURL as exc:  # the caller's data made the URL unsendable
        raise WireError("connection_error", "EINVALIDURL", str(exc)) from exc
    try:
        response = await client.send(request, stream=True)
        try:
            body, truncated = await _read_capped(response, cap_bytes)
        finally:
            await response.aclose()
    except httpx.ConnectError as exc:
        raise WireError("connection_error", _errno_name(exc, "ECONNREFUSED"), str(exc)) from exc
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
        raise WireError("connection_error", _errno_name(exc, "ECONNRESET"), str(exc)) from exc
    except httpx.TransportError as exc:
        raise WireError("connection_error", type(exc).__name__, str(exc)) from exc
    # Lower-cased from the raw pairs: httpx's Headers mapping re-scans every header per key.
    headers_out = {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers.raw
    }
    return WireResponse(
        status=response.status_code, headers=headers_out, body=body, truncated=truncated
    )


async def _read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            return b"".join(chunks)[: cap + 1], True
    return b"".join(chunks), False


def _errno_name(exc: BaseException, default: str) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        number = getattr(cause, "errno", None)
        if isinstance(number, int) and number in errno.errorcode:
            return errno.errorcode[number]
        cause = cause.__cause__ or cause.__context__
    return default
