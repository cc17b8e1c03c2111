"""What the embedded server accepts: loopback only, bounded resources, sane serve options.

A CI runner's loopback port is reachable by every job on it, so by default the
server neither listens nor relays beyond loopback, and every resource a client can
make it hold (proxies, connections, request time and size) has a ceiling.

Where each loopback rule is enforced: the API's own address when serving
(:func:`check_serve_options`), a proxy's ``listen`` address in the API (400, since a
listener on another interface exposes the relay), and a proxy's ``upstream`` only when
a client connects (``proxy.py``). The API stores any upstream, as Toxiproxy does, so
compose-style upstreams (``redis:6379``) and clients that set placeholder upstreams
work; traffic to a non-loopback upstream is refused when dialling, with nothing sent.
"""

from __future__ import annotations

import ipaddress
import math
import resource
from dataclasses import dataclass

from harness.errors import HarnessError, UnsafeTargetError
from harness.loopback import is_loopback

from .address import parse_address
from .errors import ApiError

__all__ = ["Limits", "check_proxy_address", "check_serve_options", "client_budget"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Ceilings and permissions of one embedded server."""

    allow_non_loopback: bool = False
    """Let the API and proxies listen on, and proxies relay to, other hosts
    (``toxiproxy serve --allow-non-loopback``)."""
    max_proxies: int = 1000
    max_connections_per_proxy: int = 1024
    """Clients one proxy serves at once; more are accepted and closed at once."""
    max_api_connections: int = 64
    """Open API connections. A new one takes the place of the oldest idle connection or
    one still sending its header; when all are busy with requests, it is closed at once."""
    max_clients: int | None = None
    """Client connections of all proxies together; None: as many as file descriptors allow."""
    read_timeout_s: float = 15.0
    """Time to send one whole API request, headers and body (Toxiproxy's ReadTimeout)."""
    header_timeout_s: float = 5.0
    """Time to send a request's header, from its first byte or from the connection's
    opening (Go's ReadHeaderTimeout; a Toxiproxy client sends it in one packet)."""
    max_body_bytes: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("max_proxies", "max_connections_per_proxy", "max_api_connections"):
            if getattr(self, name) < 1:
                raise HarnessError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("read_timeout_s", "header_timeout_s"):
            if not 0 < getattr(self, name) < math.inf:
                raise HarnessError(f"{name} must be positive and finite, not {getattr(self, name)}")


_FD_RESERVE = 128  # stdio, the event loop, the API listener, and the program embedding us


def client_budget(limits: Limits, proxies: int) -> int:
    """How many proxy clients fit: each holds two descriptors, and the API must keep some.

    Read at every accept, so a raised ``RLIMIT_NOFILE`` counts at once.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    derived = 1 << 30 if soft == resource.RLIM_INFINITY else soft
    derived = max((derived - _FD_RESERVE - limits.max_api_connections - proxies) // 2, 0)
    return derived if limits.max_clients is None else min(derived, limits.max_clients)


def check_serve_options(host: str, port: int, allow_non_loopback: bool) -> list[str]:
    """Validate ``toxiproxy serve``'s address; returns warnings to print, raises HarnessError.

    A non-loopback ``host`` raises UnsafeTargetError unless ``allow_non_loopback``;
    with it, the warning says who can now reach the API.
    """
    if not 0 <= port <= 65535:
        raise HarnessError(f"--port {port} is out of range (0-65535; 0 picks a free port)")
    if not host:
        raise HarnessError("--host is empty (use 127.0.0.1, or ::1 for IPv6)")
    if is_loopback(host):
        return []
    if not allow_non_loopback:
        raise UnsafeTargetError(
            f"refusing to serve the Toxiproxy API on non-loopback host {host!r}: anyone who "
            "reaches it can open proxies; pass --allow-non-loopback if you mean it"
        )
    return [
        f"the Toxiproxy API on {host} is reachable from other hosts, and its proxies may "
        "listen on and relay to any address"
    ]


def check_proxy_address(field: str, address: str, allow_non_loopback: bool) -> None:
    """400 when a proxy's ``listen`` address leaves loopback without permission.

    Only listen addresses are checked here: upstreams are stored as given and checked
    when a client connects. An address that does not parse is left alone: Toxiproxy
    reports it when it is used. An empty listen host means loopback here (Toxiproxy's
    "every interface" needs the permission).
    """
    if allow_non_loopback:
        return
    try:
        host, _ = parse_address(address)
    except ValueError:
        return
    if host == "" or is_loopback(host):
        return
    what = "every interface" if _is_unspecified(host) else "a non-loopback host"
    raise ApiError(
        f"{field} address {address} is {what}: the embedded server only listens on loopback "
        "(127.0.0.0/8, ::1, localhost) unless served with --allow-non-loopback",
        400,
    )


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False
