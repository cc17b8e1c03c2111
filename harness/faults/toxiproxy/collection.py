"""The server's state: proxies by name, with Toxiproxy's validation rules and error messages.

Every operation here is what one API endpoint does, minus HTTP. Errors are
:class:`ApiError` carrying Toxiproxy's exact message and status.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

from harness.clock import Clock

from .proxy import Proxy, format_address, parse_address
from .toxics import TOXIC_TYPES, ToxicSpec, attribute_names, default_attributes

__all__ = ["ApiError", "ProxyCollection"]


class ApiError(Exception):
    """An API failure rendered as ``{"error": message, "status": status}``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def bad_body(detail: str) -> ApiError:
    return ApiError(f"bad request body: {detail}", 400)


def missing(field: str) -> ApiError:
    return ApiError(f"missing required field: {field}", 400)


PROXY_NOT_FOUND = ("proxy not found", 404)
TOXIC_NOT_FOUND = ("toxic not found", 404)


def _field(body: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    """Go's json.Decode rules: null keeps the default, a wrong type is a 400."""
    value = body.get(key)
    if value is None:
        return default
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise bad_body(f"field {key} must be of type {_go_type(kind)}")
    return value


def _go_type(kind: type) -> str:
    return {str: "string", bool: "bool", int: "int64", float: "float32"}.get(kind, "object")


def _object(body: Any, what: str) -> Mapping[str, Any]:
    if body is None:
        return {}  # Go decodes JSON null into a struct as "no fields given"
    if not isinstance(body, dict):
        raise bad_body(f"json: cannot unmarshal {_json_kind(body)} into Go value of type {what}")
    return body


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "null"


def _normalise_listen(listen: str) -> str:
    try:
        host, port = parse_address(listen)
    except ValueError:
        # Toxiproxy fails later, at listen(2), and answers 500 with Go's net error.
        raise ApiError(f"listen tcp: address {listen}: missing port in address", 500) from None
    return format_address(host or "127.0.0.1", port)


class ProxyCollection:
    """All proxies of one server. Mutations are serialised by one lock, as in Toxiproxy."""

    def __init__(self, clock: Clock, seed: int | None) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()
        self._clock = clock
        self._rng = random.Random(seed)

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ApiError(*PROXY_NOT_FOUND)
        return proxy

    def _new_proxy(self, name: str, listen: str, upstream: str) -> Proxy:
        rng = random.Random(self._rng.getrandbits(64))
        return Proxy(name=name, listen=listen, upstream=upstream, clock=self._clock, rng=rng)

    async def create(self, body: Any) -> Proxy:
        body = _object(body, "toxiproxy.Proxy")
        name = _field(body, "name", str, "")
        upstream = _field(body, "upstream", str, "")
        listen = _field(body, "listen", str, "127.0.0.1:0")
        enabled = _field(body, "enabled", bool, True)
        if not name:
            raise missing("name")
        if not upstream:
            raise missing("upstream")
        listen = _normalise_listen(listen)
        if name in self.proxies:
            raise ApiError("proxy already exists", 409)
        proxy = self._new_proxy(name, listen, upstream)
        if enabled:
            await _start(proxy)
        self.proxies[name] = proxy
        return proxy

    async def update(self, name: str, body: Any) -> Proxy:
        proxy = self.get(name)
        body = _object(body, "toxiproxy.Proxy")
        listen = _normalise_listen(_field(body, "listen", str, proxy.listen))
        upstream = _field(body, "upstream", str, proxy.upstream)
        enabled = _field(body, "enabled", bool, proxy.enabled)
        if listen != proxy.listen or upstream != proxy.upstream:
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
        """Create or replace proxies from a list; returns those done and the first error."""
        if body is None:
            return [], None  # Go: a null list is an empty one
        if not isinstance(body, list):
            kind = _json_kind(body)
            raise bad_body(f"json: cannot unmarshal {kind} into Go value of type []struct")
        entries = []
        for index, item in enumerate(body, start=1):
            item = _object(item, "toxiproxy.Proxy")
            name = _field(item, "name", str, "")
            upstream = _field(item, "upstream", str, "")
            if not name:
                raise missing(f"name at proxy {index}")
            if not upstream:
                raise missing(f"upstream at proxy {index}")
            listen = _normalise_listen(_field(item, "listen", str, "127.0.0.1:0"))
            entries.append((name, listen, upstream, _field(item, "enabled", bool, True)))
        done: list[Proxy] = []
        for name, listen, upstream, enabled in entries:
            try:
                done.append(await self._add_or_replace(name, listen, upstream, enabled))
            except ApiError as err:
                return done, err
        return done, None

    async def _add_or_replace(self, name: str, listen: str, upstream: str, enabled: bool) -> Proxy:
        existing = self.proxies.get(name)
        if existing is not None:
            if existing.listen == listen and existing.upstream == upstream:
                return existing
            await existing.stop()
            del self.proxies[name]
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
        body = _object(body, "toxics.ToxicWrapper")
        stream = _field(body, "stream", str, "downstream")
        toxic_type = _field(body, "type", str, "")
        toxicity = _field(body, "toxicity", float, 1.0)
        name = _field(body, "name", str, "")
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
        body = _object(body, "toxics.ToxicWrapper")
        attributes = _attributes(toxic.type, body.get("attributes"), dict(toxic.attributes))
        toxicity = _field(body, "toxicity", float, toxic.toxicity)
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
    """Merge given attributes over ``base``; unknown keys are ignored, as Go's decoder does."""
    if given is None:
        return base
    if not isinstance(given, dict):
        raise bad_body(f"json: cannot unmarshal {_json_kind(given)} into attributes")
    for key in attribute_names(toxic_type):
        if key in given:
            base[key] = _field(given, key, int, base[key])
    return base


async def _start(proxy: Proxy) -> None:
    try:
        await proxy.start()
    except ValueError as exc:
        raise bad_body(str(exc)) from None
    except OSError as exc:
        raise ApiError(f"listen tcp {proxy.listen}: {exc.strerror or exc}", 500) from None
