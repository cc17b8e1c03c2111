"""Drive a Toxiproxy server (embedded or real) through ``toxiproxy-python``.

Quirks of toxiproxy-python 0.1.1 this module absorbs:

* The server address lives in class attributes (``APIConsumer.host/port``),
  so it is global per process. Every call here sets them and makes the request
  under one process-wide lock, so controls for different servers can coexist.
* It is synchronous (``requests``) and sets no request timeout. Calls run in
  ``asyncio.to_thread`` (the only threads in the harness) and pass a timeout
  through ``APIConsumer``'s ``**kwargs``; the high-level ``Proxy.add_toxic``
  and friends cannot take one, so requests go through ``APIConsumer`` and
  results are parsed with its ``Proxy``/``Toxic`` classes.
* Only 400/404/409 raise (``InvalidToxic``, ``NotFound``, ``ProxyExists``);
  a 500 comes back as a response. Both become :class:`ToxiproxyError`.
* Connection failures surface as ``requests`` exceptions; they become
  :class:`~harness.errors.UnreachableError` naming the URL.
* A request in a thread cannot be cancelled: when a run is interrupted while a proxy
  is being created, the POST still lands. Every request therefore runs on one thread per
  process, in order, and :meth:`ToxiproxyControl.cleanup` refuses new proxies, then
  lists and deletes as one job queued behind them, which no cancellation cuts short:
  a proxy created in the last moment is removed too.
* Names go into URL paths: each is percent-encoded, and a name with ``/`` (which no
  Toxiproxy server can route to, so it could never be deleted) is refused.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import os
import re
import signal
import socket
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists
from toxiproxy.proxy import Proxy
from toxiproxy.toxic import Toxic

from harness.errors import ConfigError, HarnessError, UnreachableError
from harness.flow.bounds import name_problem

__all__ = [
    "ProxyHandle",
    "ToxicHandle",
    "ToxiproxyControl",
    "ToxiproxyError",
    "check_proxy_name",
    "cleanup_on_signals",
    "owner_of",
    "owner_suffix",
    "resolve_url",
]

_API_LOCK = threading.Lock()
_EXECUTORS: dict[int, concurrent.futures.ThreadPoolExecutor] = {}


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    """This process's request thread (requests are serialised by _API_LOCK anyway, so they
    run in order). One per process id: a forked child cannot use its parent's threads."""
    pid = os.getpid()
    if pid not in _EXECUTORS:
        _EXECUTORS[pid] = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="toxiproxy")
    return _EXECUTORS[pid]


class ToxiproxyError(HarnessError):
    """The Toxiproxy server refused a request; ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyHandle:
    """A proxy this run created: ``name`` is the server-side name (``<run_id>-<short>``)."""

    name: str
    short_name: str
    listen: str
    upstream: str

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


@dataclass(frozen=True, slots=True, kw_only=True)
class ToxicHandle:
    """A toxic as the server reported it."""

    proxy: str
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: Mapping[str, Any]


def resolve_url(override: str | None = None) -> str | None:
    """The Toxiproxy URL to use: ``override``, else ``$TOXIPROXY_URL``, else None.

    None means "no server configured": the caller decides whether to start an
    embedded one. Nothing is started here.
    """
    url = override or os.environ.get("TOXIPROXY_URL", "").strip()
    if url:
        ToxiproxyControl(url, "check")  # a malformed URL is a ConfigError here, not mid-run
    return url or None


def owner_suffix() -> str:
    """``@<host>:<pid>``: which process on which machine owns a proxy, in its name.

    Toxiproxy keeps no metadata on a proxy, so the name carries it; `prune_dead` reads
    it back to remove the proxies of runs that died without cleaning up (SIGKILL, OOM).
    """
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "localhost"
    return f"@{host}:{os.getpid()}"


_OWNER = re.compile(r"@([A-Za-z0-9.-]+):(\d+)$")


def owner_of(name: str) -> tuple[str, int] | None:
    """The (host, pid) a proxy name says owns it, or None for a proxy not made by a run."""
    match = _OWNER.search(name)
    return (match.group(1), int(match.group(2))) if match else None


def check_proxy_name(name: str) -> str:
    """``name`` if a Toxiproxy server can route to it, else a ConfigError.

    A proxy name is a path segment of every later request (``/proxies/NAME``): with a
    ``/`` in it, neither Toxiproxy nor the embedded server can ever address (or delete)
    it again. Control characters cannot travel in a URL either.
    """
    problem = name_problem(name) if name else "it is empty"
    if problem:
        raise ConfigError(
            f"{name!r} cannot be a Toxiproxy proxy name: {problem}",
            file="proxy name",
            hint="flow ids, step ids and scenario names become proxy names; use letters, "
            "digits, '.', '_' and '-'",
        )
    return name


def _path(*segments: str) -> str:
    return "/proxies/" + "/".join(quote(s, safe="") for s in segments)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


class ToxiproxyControl:
    """One run's view of a Toxiproxy server.

    Everything it creates is named ``<run_id>-<name>@<host>:<pid>``, so several runs and
    machines can share one server, and proxies of dead runs can be found and removed.
    """

    def __init__(self, url: str, run_id: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        try:
            port = parts.port
        except ValueError:
            port = -1
        if not parts.hostname or port == -1:
            raise ConfigError(
                f"not a Toxiproxy URL: {url!r}",
                file="--toxiproxy-url / TOXIPROXY_URL",
                hint="e.g. http://127.0.0.1:8474",
            )
        self.url = url
        self.run_id = run_id
        self.timeout = timeout
        self._host = parts.hostname
        self._port = port or 8474
        self._created: dict[str, ProxyHandle] = {}
        self._closing = False

    def full_name(self, name: str) -> str:
        """The server-side name of this run's proxy ``name`` (a ConfigError when no server
        could route to it: see :func:`check_proxy_name`)."""
        if name.startswith(f"{self.run_id}-") and owner_of(name) is not None:
            return check_proxy_name(name)
        return check_proxy_name(f"{self.run_id}-{name}{owner_suffix()}")

    async def prune_dead(self) -> tuple[list[str], list[str]]:
        """Delete the proxies of runs on this host whose process is gone; never a live run's.

        Returns the names removed and the names that could not be (with the reason).
        """
        response = await self._call(lambda: APIConsumer.get("/proxies", timeout=self.timeout))
        host = owner_suffix()[1:].rpartition(":")[0]
        dead: list[str] = []
        failed: list[str] = []
        for name in sorted(response.json()):
            owner = owner_of(name)
            if owner is not None and owner[0] == host and not _alive(owner[1]):
                try:
                    if "/" in name:
                        raise ToxiproxyError("a name with '/' cannot be addressed", 0)
                    await self._delete(_path(name))
                    dead.append(name)
                except ToxiproxyError as exc:
                    failed.append(f"{name}: {exc}")
        return dead, failed

    async def version(self) -> str:
        response = await self._call(lambda: APIConsumer.get("/version", timeout=self.timeout))
        return str(response.json()["version"])

    async def create_proxy(
        self, name: str, upstream: str, listen: str = "127.0.0.1:0"
    ) -> ProxyHandle:
        """Create (or, if this run's proxy of that name exists, replace) a proxy."""
        full = self.full_name(name)
        if self._closing:
            raise ToxiproxyError(f"not creating {full}: the run is cleaning up", 0)
        body = {"name": full, "upstream": upstream, "listen": listen, "enabled": True}
        with contextlib.suppress(ToxiproxyError):
            await self._delete(_path(full))
        response = await self._call(
            lambda: APIConsumer.post("/proxies", json=body, timeout=self.timeout)
        )
        proxy = Proxy(**response.json())
        handle = ProxyHandle(
            name=proxy.name, short_name=name, listen=proxy.listen, upstream=proxy.upstream
        )
        self._created[full] = handle
        return handle

    async def add_toxic(
        self,
        proxy: ProxyHandle | str,
        type: str,
        *,
        stream: str = "downstream",
        name: str | None = None,
        toxicity: float = 1.0,
        attributes: Mapping[str, int] | None = None,
    ) -> ToxicHandle:
        """Attach a toxic; ``name`` defaults to ``<type>_<stream>`` as in Toxiproxy."""
        attrs = dict(attributes or {})
        if type == "slicer" and attrs.get("average_size", 0) + attrs.get("size_variation", 0) < 1:
            # Toxiproxy 2.12 recurses until its stack overflows and the whole server dies.
            raise ConfigError(
                "a slicer needs average_size + size_variation >= 1",
                hint="a real Toxiproxy server crashes on a zero-sized slicer",
            )
        proxy_name = self._proxy_name(proxy)
        body = {
            "name": name or f"{type}_{stream}",
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attrs,
        }
        url = _path(proxy_name, "toxics")
        response = await self._call(lambda: APIConsumer.post(url, json=body, timeout=self.timeout))
        return _toxic_handle(proxy_name, response.json())

    async def update_toxic(
        self,
        proxy: ProxyHandle | str,
        name: str,
        *,
        attributes: Mapping[str, int] | None = None,
        toxicity: float | None = None,
    ) -> ToxicHandle:
        """Change a toxic's attributes (merged) or toxicity on live connections."""
        proxy_name = self._proxy_name(proxy)
        body: dict[str, Any] = {"attributes": dict(attributes or {})}
        if toxicity is not None:
            body["toxicity"] = toxicity
        url = _path(proxy_name, "toxics", name)
        response = await self._call(lambda: APIConsumer.post(url, json=body, timeout=self.timeout))
        return _toxic_handle(proxy_name, response.json())

    async def remove_toxic(self, proxy: ProxyHandle | str, name: str) -> None:
        await self._delete(_path(self._proxy_name(proxy), "toxics", name))

    async def toxics(self, proxy: ProxyHandle | str) -> list[ToxicHandle]:
        proxy_name = self._proxy_name(proxy)
        url = _path(proxy_name, "toxics")
        response = await self._call(lambda: APIConsumer.get(url, timeout=self.timeout))
        return [_toxic_handle(proxy_name, t) for t in response.json()]

    async def set_enabled(self, proxy: ProxyHandle | str, enabled: bool) -> None:
        """Disable (refuse and drop connections) or re-enable a proxy; its port is kept."""
        url = _path(self._proxy_name(proxy))
        body = {"enabled": enabled}
        await self._call(lambda: APIConsumer.post(url, json=body, timeout=self.timeout))

    async def cleanup(self) -> None:
        """Delete every proxy of this run (their toxics go with them); other runs are untouched.

        New proxies are refused from here on. The listing and the deletes run as one job
        on the request thread, behind every request this run already sent: a proxy still
        being created when the run was interrupted is created first, then found and
        deleted. Cancelling the caller (a second stop, or asyncio.run's last sweep of its
        tasks) cannot cut the job short: it is waited for, then the cancellation goes on.
        """
        self._closing = True
        future = _executor().submit(self._cleanup_sync)
        cancelled = False
        while not future.done():
            try:
                await asyncio.shield(asyncio.wrap_future(future))
            except asyncio.CancelledError:
                cancelled = True
        self._created.clear()
        if cancelled:
            raise asyncio.CancelledError
        future.result()  # an unreachable server is still an error to report

    def _cleanup_sync(self) -> None:
        response = self._call_sync(lambda: APIConsumer.get("/proxies", timeout=self.timeout))
        prefix = f"{self.run_id}-"
        names = {n for n in response.json() if n.startswith(prefix)} | set(self._created)
        for full in sorted(names):
            url = _path(full)
            with contextlib.suppress(ToxiproxyError):
                self._call_sync(functools.partial(APIConsumer.delete, url, timeout=self.timeout))

    def _proxy_name(self, proxy: ProxyHandle | str) -> str:
        return proxy.name if isinstance(proxy, ProxyHandle) else self.full_name(proxy)

    async def _delete(self, url: str) -> None:
        await self._call(lambda: APIConsumer.delete(url, timeout=self.timeout))

    async def _call(self, request: Callable[[], Any]) -> Any:
        # On the one request thread, in order: cleanup() relies on it (see there). A
        # request cancelled before it starts never runs; one under way finishes.
        return await asyncio.wrap_future(_executor().submit(self._call_sync, request))

    def _call_sync(self, request: Callable[[], Any]) -> Any:
        with _API_LOCK:
            APIConsumer.host, APIConsumer.port = self._host, self._port
            try:
                response = request()
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise UnreachableError(
                    f"Toxiproxy at {self.url} is unreachable ({type(exc).__name__}); "
                    "start one or unset TOXIPROXY_URL to use the embedded server"
                ) from None
            except (InvalidToxic, NotFound, ProxyExists) as exc:
                raise _refused(exc.args[0] if exc.args else b"") from None
        if response.status_code >= 400:
            raise _refused(response.content)
        return response


def _refused(content: bytes) -> ToxiproxyError:
    try:
        data = json.loads(content)
        return ToxiproxyError(str(data["error"]), int(data["status"]))
    except (ValueError, KeyError, TypeError):
        return ToxiproxyError(content.decode("utf-8", "replace").strip(), 0)


def _toxic_handle(proxy: str, data: dict[str, Any]) -> ToxicHandle:
    toxic = Toxic(**data)
    return ToxicHandle(
        proxy=proxy,
        name=toxic.name,
        type=toxic.type,
        stream=toxic.stream,
        toxicity=float(toxic.toxicity),
        attributes=dict(toxic.attributes),
    )


@contextlib.asynccontextmanager
async def cleanup_on_signals(control: ToxiproxyControl) -> AsyncIterator[ToxiproxyControl]:
    """Remove the run's proxies on every exit path, SIGINT and SIGTERM included.

    While inside, SIGINT/SIGTERM cancel the current task; on the way out the
    previous handlers are restored, the proxies removed, and the signal
    re-raised as KeyboardInterrupt (SIGINT) or SystemExit(143) (SIGTERM).
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[int] = []
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def on_signal(sig: int) -> None:
        received.append(sig)
        if task is not None:
            task.cancel()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield control
    except asyncio.CancelledError:
        if not received:
            raise
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
            signal.signal(sig, previous[sig])
        if received and task is not None:
            task.uncancel()
        await control.cleanup()
    if received:
        if received[0] == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + received[0])
