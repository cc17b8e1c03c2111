"""Is an address on this machine? Chaos never leaves loopback unless told to."""

from __future__ import annotations

import functools
import ipaddress

__all__ = ["is_loopback"]


@functools.lru_cache(maxsize=1024)
def is_loopback(host: str) -> bool:
    """True for `localhost` and for IP literals in 127.0.0.0/8 or ::1 (brackets allowed)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
