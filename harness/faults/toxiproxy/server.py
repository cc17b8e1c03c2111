"""The embedded server: the API on uvicorn plus the proxies, on the caller's event loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.asgi_server import LoopbackServer
from harness.clock import Clock, RealClock
from harness.errors import ConfigError, UnsafeTargetError, did_you_mean
from harness.inputs import read_bytes
from harness.loopback import is_loopback

from .address import format_address
from .api import build_app
from .collection import ApiError, ProxyCollection
from .policy import Limits, check_serve_options

__all__ = ["EmbeddedToxiproxy", "load_config", "serve"]

_PROXY_KEYS = ("name", "listen", "upstream", "enabled")
_MAX_CONFIG_BYTES = 16 * 1024 * 1024


class EmbeddedToxiproxy:
    """A Toxiproxy-compatible server running on the current event loop.

    Usage::

        async with EmbeddedToxiproxy(host="127.0.0.1", port=0, seed=1) as server:
            server.url  # "http://127.0.0.1:NNNN"

    ``seed`` makes jitter, slicer variation and toxicity rolls reproducible; ``limits``
    sets what clients may do (loopback only and bounded, by default).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        *,
        clock: Clock | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.limits = limits or Limits()
        self.collection = ProxyCollection(clock or RealClock(), seed, self.limits)
        self._http: LoopbackServer | None = None

    @property
    def url(self) -> str:
        """The API's base URL, with the real port once started."""
        return "http://" + format_address(self.host, self.port)

    async def start(self) -> None:
        """Bind the API socket and start serving; HarnessError when that is impossible."""
        if not self.limits.allow_non_loopback and not is_loopback(self.host):
            raise UnsafeTargetError(
                f"refusing to serve the Toxiproxy API on non-loopback host {self.host!r}; "
                "pass Limits(allow_non_loopback=True) (CLI: --allow-non-loopback) if you mean it"
            )
        http = LoopbackServer(
            build_app(self.collection),
            name="toxiproxy",
            host=self.host,
            port=self.port,
            read_timeout=self.limits.read_timeout_s,
            header_timeout=self.limits.header_timeout_s,
            max_connections=self.limits.max_api_connections,
        )
        await http.start()
        self._http, self.port = http, http.port

    async def stop(self) -> None:
        """Drop every proxy and connection and stop the API."""
        await self.collection.close()
        http, self._http = self._http, None
        if http is not None:
            await http.stop()

    async def populate(self, proxies: list[Any]) -> None:
        """Create proxies as ``POST /populate`` would; raises ApiError on the first failure."""
        async with self.collection.lock:
            _, err = await self.collection.populate(proxies)
        if err is not None:
            raise err

    async def __aenter__(self) -> EmbeddedToxiproxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def load_config(path: Path) -> list[dict[str, Any]]:
    """Read a Toxiproxy ``-config`` file (a JSON list of proxies); ConfigError when malformed."""
    raw = read_bytes(path, max_bytes=_MAX_CONFIG_BYTES)
    if len(raw) > _MAX_CONFIG_BYTES:
        raise ConfigError(f"larger than {_MAX_CONFIG_BYTES} bytes", file=path, pointer="")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 (byte {exc.start} is {raw[exc.start]:#04x})",
            file=path,
            pointer="",
            hint="save it as UTF-8",
        ) from None
    data = _parse_json(path, text)
    if not isinstance(data, list):
        raise ConfigError("expected a list of proxies", file=path, pointer="/")
    for index, item in enumerate(data):
        _check_proxy(path, index, item)
    return data


def _reject_constant(word: str) -> Any:
    raise ValueError(f"{word} is not JSON")


def _parse_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise ConfigError(f"not valid JSON: {exc.msg} ({where})", file=path, pointer="") from None
    except RecursionError:
        raise ConfigError("not valid JSON: nested too deeply", file=path, pointer="") from None
    except ValueError as exc:  # NaN/Infinity, or an integer too long to convert
        raise ConfigError(f"not valid JSON: {exc}", file=path, pointer="") from None


def _pointer(*parts: object) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _check_proxy(path: Path, index: int, item: Any) -> None:
    if not isinstance(item, dict):
        raise ConfigError("expected an object", file=path, pointer=_pointer(index))
    for key in item:
        if key not in _PROXY_KEYS:
            hint = did_you_mean(key, _PROXY_KEYS) or f"known keys: {', '.join(_PROXY_KEYS)}"
            raise ConfigError(
                f"unknown key '{key}'", file=path, pointer=_pointer(index, key), hint=hint
            )
    for key in ("name", "upstream"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise ConfigError(
                f"'{key}' is required and must be a non-empty string",
                file=path,
                pointer=_pointer(index, key),
                hint='e.g. "upstream": "127.0.0.1:6379"' if key == "upstream" else "",
            )
    if "listen" in item and not isinstance(item["listen"], str):
        raise ConfigError("'listen' must be a string", file=path, pointer=_pointer(index, "listen"))
    if "enabled" in item and not isinstance(item["enabled"], bool):
        raise ConfigError(
            "'enabled' must be true or false", file=path, pointer=_pointer(index, "enabled")
        )


async def serve(
    host: str,
    port: int,
    config: Path | None,
    *,
    on_ready: Callable[[str], None] | None = None,
    seed: int | None = None,
    limits: Limits | None = None,
) -> None:
    """Run an embedded server until cancelled, first creating the proxies in ``config``.

    ``on_ready`` receives the API URL once the server listens and the config is loaded.
    Bad options or config raise HarnessError (ConfigError for the file).
    """
    limits = limits or Limits()
    check_serve_options(host, port, limits.allow_non_loopback)
    proxies = load_config(config) if config is not None else []
    async with EmbeddedToxiproxy(host=host, port=port, seed=seed, limits=limits) as server:
        async with server.collection.lock:
            done, err = await server.collection.populate(proxies)
        if err is not None:
            field = next((k for k in ("listen", "upstream") if err.message.startswith(k)), "")
            where = _pointer(len(done), field) if field else _pointer(len(done))
            raise ConfigError(err.message, file=config, pointer=where, hint=_hint(err))
        if on_ready is not None:
            on_ready(server.url)
        await asyncio.Event().wait()


def _hint(err: ApiError) -> str:
    if err.status == 400 and "loopback" in err.message:
        return "use 127.0.0.1 or localhost, or serve with --allow-non-loopback"
    return "check 'listen' and 'upstream'"
