"""The executor's resolver, where DNS faults are injected.

The executor resolves every host itself, inside the attempt's deadline, then
connects to the address it got. So a DNS stall really consumes the attempt's
time budget, exactly as a slow resolver would on the platform.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from harness.clock import Clock

__all__ = ["DnsFault", "DnsFailure", "FaultyResolver", "Resolver", "SystemResolver"]


class DnsFailure(Exception):
    """Name resolution failed; `code` is NXDOMAIN or SERVFAIL."""

    def __init__(self, host: str, code: str) -> None:
        self.host = host
        self.code = code
        super().__init__(f"{code} resolving {host}")


class Resolver(Protocol):
    async def resolve(self, host: str, lane: str = "") -> str:
        """An address to connect to for `host`, looked up by step `lane` (FLOW/STEP, or "");
        raises :class:`DnsFailure`."""
        ...

    async def routed(self, host: str, lane: str = "") -> None:
        """`host` is routed to a stand-in base URL: apply its faults, skip the real lookup."""
        ...


class SystemResolver:
    """The operating system's resolver; IP literals and localhost never touch it."""

    async def resolve(self, host: str, lane: str = "") -> str:
        if _is_ip_literal(host):
            return host
        if host == "localhost":
            return "127.0.0.1"
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            code = "NXDOMAIN" if exc.errno in (socket.EAI_NONAME, socket.EAI_NODATA) else "SERVFAIL"
            raise DnsFailure(host, code) from exc
        return str(infos[0][4][0])

    async def routed(self, host: str, lane: str = "") -> None:
        return None


@functools.lru_cache(maxsize=1024)
def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsFault:
    """`stall` waits `stall_ms` then answers; `nxdomain` / `servfail` fail (after `stall_ms`)."""

    kind: Literal["stall", "nxdomain", "servfail"]
    stall_ms: int = 0


class FaultyResolver:
    """Wraps a resolver with per-host faults; hosts map to addresses for the loopback stand-ins.

    A fault set with `step` (FLOW/STEP, or a bare step id) hits only that step's lookups.
    """

    def __init__(
        self,
        clock: Clock,
        inner: Resolver | None = None,
        *,
        hosts: Mapping[str, str] | None = None,
    ) -> None:
        self._clock = clock
        self._inner = inner or SystemResolver()
        self._hosts = dict(hosts or {})
        self._faults: dict[tuple[str, str], DnsFault] = {}

    def set_fault(self, host: str, fault: DnsFault | None, *, step: str = "") -> None:
        key = (host.lower(), step)
        if fault is None:
            self._faults.pop(key, None)
        else:
            self._faults[key] = fault

    def clear(self) -> None:
        self._faults.clear()

    def _fault(self, host: str, lane: str) -> DnsFault | None:
        host = host.lower()
        if lane:
            for key in (lane, lane.rpartition("/")[2]):
                if (host, key) in self._faults:
                    return self._faults[(host, key)]
        return self._faults.get((host, ""))

    async def routed(self, host: str, lane: str = "") -> None:
        fault = self._fault(host, lane) if self._faults else None
        if fault is not None:
            if fault.stall_ms:
                await self._clock.sleep(fault.stall_ms / 1000)
            if fault.kind != "stall":
                raise DnsFailure(host, fault.kind.upper())

    async def resolve(self, host: str, lane: str = "") -> str:
        await self.routed(host, lane)
        mapped = self._hosts.get(host.lower())
        return mapped if mapped is not None else await self._inner.resolve(host)
