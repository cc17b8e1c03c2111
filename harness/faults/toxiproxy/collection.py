"""The server's state: proxies by name, with Toxiproxy's validation rules and error messages.

Every operation here is what one API endpoint does, minus HTTP. Errors are
:class:`ApiError` carrying Toxiproxy's exact message and status. Listen addresses
are kept as given until a proxy listens, and compared resolved (``localhost:1`` is
``127.0.0.1:1``), as Toxiproxy does.

One deliberate difference: a proxy name with ``/`` is refused (400). Toxiproxy accepts
it, and then no request can address the proxy (``/proxies/{proxy}`` matches one path
segment, ``%2F`` included), so it can never be changed or deleted but by ``/reset``.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from harness.clock import Clock

from .address import ListenError, resolve_string
from .decode import field, json_kind, obj
from .errors import ApiError, bad_body, missing
from .policy import Limits, check_proxy_address, client_budget
from .proxy import Budget, Proxy
from .toxics import TOXIC_TYPES, ToxicSpec, attribute_names, default_attributes

__all__ = ["ApiError", "ProxyCollection"]

PROXY_NOT_FOUND = ("proxy not found", 404)
TOXIC_NOT_FOUND = ("toxic not found", 404)
_DEFAULT_LISTEN = "127.0.0.1:0"


class ProxyCollection:
    """All proxies of one server. Mutations are serialised by one lock, as in Toxiproxy."""

    def __init__(self, clock: Clock, seed: int | None, limits: Limits | None = None) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()
        self.limits = limits or Limits()
        self._clock = clock
        self._rng = random.Random(seed)
        self._budget = Budget(lambda: client_budget(self.limits, len(self.proxies)))

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ApiError(*PROXY_NOT_FOUND)
        return proxy

    def _new_proxy(self, name: str, listen: str, upstream: str) -> Proxy:
        if name not in self.proxies and len(self.proxies) >= self.limits.max_proxies:
            raise ApiError(
                f"too many proxies: this server holds at most {self.limits.max_proxies}; "
                "delete unused ones (or raise max_proxies)",
                503,
            )
        rng = random.Random(self._rng.getrandbits(64))
        return Proxy(
            name=name,
            listen=listen,
            upstream=upstream,
            clock=self._clock,
            rng=rng,
            max_connections=self.limits.max_connections_per_proxy,
            budget=self._budget,
            allow_non_loopback=self.limits.allow_non_loopback,
        )

    def _check_addresses(self, listen: str, upstream: str) -> None:
        # Any upstream is stored, as in Toxiproxy; the proxy checks it when it dials.
        check_proxy_address("listen", listen, self.limits.allow_non_loopback)

    async def create(self, body: Any) -> Proxy:
        body = obj(body, "toxiproxy.Proxy")
        name = field(body, "name", str, "")
        upstream = field(body, "upstream", str, "")
        listen = field(body, "listen", str, _DEFAULT_LISTEN)
        enabled = field(body, "enabled", bool, True)
        if not name:
            raise missing("name")
        if not upstream:
            raise missing("upstream")
        _check_name(name)
        self._check_addresses(listen, upstream)
        if name in self.proxies:
            raise ApiError("proxy already exists", 409)
        proxy = self._new_proxy(name, listen, upstream)
        if enabled:
            await _start(proxy)
        self.proxies[name] = proxy
        return proxy

    async def update(self, name: str, body: Any) -> Proxy:
        proxy = self.get(name)
        body = obj(body, "toxiproxy.Proxy")
        listen = field(body, "listen", str, proxy.listen)
        upstream = field(body, "upstream", str, proxy.upstream)
        enabled = field(body, "enabled", bool, proxy.enabled)
        if await _differs(proxy, listen, upstream):
            self._check_addresses(listen, upstream)
            await proxy.stop()
            proxy.listen, proxy.upstream = listen, upstream
        if enabled and not proxy.enabled:
            await _start(proxy)
        elif not enabled:
            await proxy.stop()
        return proxy

    async def delete(self, name: str) -> None:
        proxy = self.get(name)
        await proxy.stop()
        del self.proxies[name]

    async def reset(self) -> None:
        for proxy in list(self.proxies.values()):
            await _start(proxy)
            for toxic in list(proxy.toxics):
                proxy.remove_toxic(toxic)

    async def populate(self, body: Any) -> tuple[list[Proxy], ApiError | None]:
        """Create or replace proxies from a list; returns those done and the first error.

        As in Toxiproxy, names and upstreams are checked first, then each proxy is
        created in turn, and a failure leaves the ones before it in place.
        """
        if body is None:
            return [], None  # Go: a null list is an empty one
        if not isinstance(body, list):
            kind = json_kind(body)
            raise bad_body(f"json: cannot unmarshal {kind} into Go value of type []struct")
        entries = []
        for index, item in enumerate(body, start=1):
            item = obj(item, "toxiproxy.Proxy")
            name = field(item, "name", str, "")
            upstream = field(item, "upstream", str, "")
            listen = field(item, "listen", str, _DEFAULT_LISTEN)
            enabled = field(item, "enabled", bool, True)
            if not name:
                raise missing(f"name at proxy {index}")
            if not upstream:
                raise missing(f"upstream at proxy {index}")
            _check_name(name, f" at proxy {index}")
            entries.append((name, listen, upstream, enabled))
        done: list[Proxy] = []
        for name, listen, upstream, enabled in entries:
            try:
                self._check_addresses(listen, upstream)
                done.append(await self._add_or_replace(name, listen, upstream, enabled))
            except ApiError as err:
                return done, err
        return done, None

    async def _add_or_replace(self, name: str, listen: str, upstream: str, enabled: bool) -> Proxy:
        existing = self.proxies.get(name)
        if existing is not None:
            if not await _differs(existing, listen, upstream):
                return existing
            # Toxiproxy keeps the stopped proxy if its replacement cannot start.
            await existing.stop()
        proxy = self._new_proxy(name, listen, upstream)
        if enabled:
            await _start(proxy)
        self.proxies[name] = proxy
        return proxy

    async def close(self) -> None:
        for proxy in list(self.proxies.values()):
            await proxy.stop()
        self.proxies.clear()

    # -- toxics -----------------------------------------------------------------------------

    def get_toxic(self, proxy_name: str, toxic_name: str) -> ToxicSpec:
        toxic = self.get(proxy_name).toxics.get(toxic_name)
        if toxic is None:
            raise ApiError(*TOXIC_NOT_FOUND)
        return toxic

    def add_toxic(self, proxy_name: str, body: Any) -> ToxicSpec:
        proxy = self.get(proxy_name)
        body = obj(body, "toxics.ToxicWrapper")
        stream = field(body, "stream", str, "downstream")
        toxic_type = field(body, "type", str, "")
        toxicity = _toxicity(body, 1.0)
        name = field(body, "name", str, "")
        if stream.lower() not in ("upstream", "downstream"):
            raise ApiError("stream was invalid, can be either upstream or downstream", 400)
        name = name or f"{toxic_type}_{stream}"
        if toxic_type not in TOXIC_TYPES:
            raise ApiError("invalid toxic type", 400)
        if name in proxy.toxics:
            raise ApiError("toxic already exists", 409)
        attributes = _attributes(toxic_type, body.get("attributes"), default_attributes(toxic_type))
        spec = ToxicSpec(
            name=name, type=toxic_type, stream=stream, toxicity=toxicity, attributes=attributes
        )
        proxy.add_toxic(spec)
        return spec

    def update_toxic(self, proxy_name: str, toxic_name: str, body: Any) -> ToxicSpec:
        proxy = self.get(proxy_name)
        toxic = self.get_toxic(proxy_name, toxic_name)
        body = obj(body, "toxics.ToxicWrapper")
        attributes = _attributes(toxic.type, body.get("attributes"), dict(toxic.attributes))
        toxicity = _toxicity(body, toxic.toxicity)
        spec = ToxicSpec(
            name=toxic.name,
            type=toxic.type,
            stream=toxic.stream,
            toxicity=toxicity,
            attributes=attributes,
        )
        proxy.update_toxic(spec)
        return spec

    def remove_toxic(self, proxy_name: str, toxic_name: str) -> None:
        proxy = self.get(proxy_name)
        self.get_toxic(proxy_name, toxic_name)
        proxy.remove_toxic(toxic_name)


def _attributes(toxic_type: str, given: Any, base: dict[str, int]) -> dict[str, int]:
    """Merge given attributes over ``base``; unknown keys are ignored, as Go's decoder does.

    Toxiproxy takes negative durations and sizes (and misbehaves on some); we refuse them.
    """
    if given is None:
        return base
    if not isinstance(given, dict):
        raise bad_body(f"json: cannot unmarshal {json_kind(given)} into attributes")
    for key in attribute_names(toxic_type):
        if key in given:
            base[key] = field(given, key, int, base[key], where=".attributes")
            if base[key] < 0:
                raise bad_body(f"attribute {key} must not be negative, got {base[key]}")
    return base


def _toxicity(body: Any, default: float) -> float:
    value: float = field(body, "toxicity", float, default, where="ToxicWrapper")
    if not 0.0 <= value <= 1.0:
        raise bad_body(f"toxicity must be between 0 and 1, got {value}")
    return value


def _check_name(name: str, where: str = "") -> None:
    if "/" in name:
        raise bad_body(f"name{where} contains '/': no request could address this proxy")


async def _differs(proxy: Proxy, listen: str, upstream: str) -> bool:
    """Toxiproxy's Proxy.Differs: the new listen address resolved, against the current one."""
    try:
        resolved = await resolve_string(listen)
    except ValueError as exc:
        raise ApiError(str(exc), 500) from None
    return resolved != proxy.listen or upstream != proxy.upstream


async def _start(proxy: Proxy) -> None:
    try:
        await proxy.start()
    except ListenError as exc:
        raise ApiError(str(exc), 500) from None
