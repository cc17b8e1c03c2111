"""Addresses as Go's net package reads, resolves and prints them, with its error text."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket

__all__ = [
    "ListenError",
    "format_address",
    "parse_address",
    "resolve",
    "resolve_now",
    "resolve_string",
]


def parse_address(address: str) -> tuple[str, int]:
    """Split ``host:port`` / ``[v6]:port`` as Go's net package does; ValueError when malformed.

    The messages are Go's (``address x: missing port in address``); an empty port is 0.
    """
    host, sep, port_text = address.rpartition(":")
    if not sep:
        raise ValueError(f"address {address}: missing port in address")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"address {address}: too many colons in address")
    if port_text and not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"lookup tcp/{port_text}: unknown port")
    port = int(port_text or "0")
    if port > 65535:
        raise ValueError(f"address {port_text}: invalid port")
    return host, port


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ListenError(Exception):
    """A proxy could not listen; the message is Go's ``net.Listen`` error text."""


@functools.lru_cache(maxsize=1024)
def resolve_now(address: str) -> tuple[str, int] | None:
    """:func:`resolve` for an address that needs no lookup (an IP, ``localhost`` or an
    empty host), else None; ValueError with Go's text when malformed. Memoised: a proxy
    dials the same upstream for each of its connections."""
    host, port = parse_address(address)
    if host in ("", "localhost"):
        return ("127.0.0.1" if host else ""), port
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        return None


async def resolve(address: str) -> tuple[str, int]:
    """``host:port`` to an IP and port, as Go's ``net.ResolveTCPAddr`` (localhost is IPv4).

    An empty host stays empty (Go: every interface). Raises ValueError with Go's text.
    """
    known = resolve_now(address)
    if known is not None:
        return known
    host, port = parse_address(address)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValueError(f"lookup {host}: no such host") from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0]), port


async def resolve_string(address: str) -> str:
    """Go's ``TCPAddr.String()`` of the resolved address; ValueError when unresolvable."""
    host, port = await resolve(address)
    return format_address(host, port)
