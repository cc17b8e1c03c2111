"""Serve an ASGI app with uvicorn on the running loop, bound by us, port 0 friendly.

One server class for every HTTP endpoint the harness runs (reference backends, the
webhook receiver, the embedded Toxiproxy API). Options that matter when the port is
reachable by other jobs on a CI runner: ``header_timeout`` and ``read_timeout`` drop a
client that has not sent a request's header, or the whole request, in time (Go's
``http.Server.ReadHeaderTimeout`` and ``ReadTimeout``), and ``max_connections`` caps
the open connections: a newcomer takes the place of the oldest idle or still-dribbling
one, or is closed at once when all are busy with requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import h11
import uvicorn
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.h11_impl import H11Protocol

from harness.errors import HarnessError

__all__ = ["LoopbackServer", "bind_socket"]

# The parser of the servers without read deadlines (the reference backends, the
# team-backend stub, the webhook receiver): httptools (llhttp, C) costs a call less CPU
# than h11 (pure Python); the deadline protocol below stays on h11, whose connection
# state it reads. A module attribute so bench/bench_load.py can measure both in one run.
http_parser = "httptools"

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 2.0


class _QuietCancellation(logging.Filter):
    """A request handler cancelled because the run was interrupted is not an app error.

    uvicorn logs it as "Exception in ASGI application" with a traceback; on Ctrl-C or
    SIGTERM that is noise in the very output a person reads to see what was kept. So is
    a client that hung up mid-request (a step's deadline under load): the client side
    records it as the step's timeout.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, asyncio.CancelledError | ClientDisconnect)


logging.getLogger("uvicorn.error").addFilter(_QuietCancellation())


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.stopping = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Ctrl-C belongs to whoever owns the loop (the CLI or pytest), not to each server.
        yield

    async def main_loop(self) -> None:
        # uvicorn polls should_exit every 100 ms; waiting on an event makes stop() prompt.
        await self.on_tick(0)
        await self.stopping.wait()


class _Admission:
    """The open connections of one server, oldest first, at most ``cap`` of them.

    A connection beyond the cap takes the place of the oldest one that is not in the
    middle of a request (idle between requests, or still sending its header); when every
    open connection is serving a request, the newcomer is closed at once. So idle or
    dribbling sockets can neither pile up (each holds a file descriptor) nor lock the
    API: a client that sends its request at once always gets in.
    """

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.open: dict[_DeadlineProtocol, None] = {}

    def admit(self, connection: _DeadlineProtocol) -> bool:
        if self.cap is not None and len(self.open) >= self.cap:
            victim = next((c for c in self.open if c.evictable()), None)
            if victim is None:
                return False
            self.leave(victim)
            victim.drop()
        self.open[connection] = None
        return True

    def leave(self, connection: _DeadlineProtocol) -> None:
        self.open.pop(connection, None)


class _DeadlineProtocol(H11Protocol):
    """h11 with deadlines for reading each request, and a cap on open connections.

    uvicorn has neither: a client that sends half a request line keeps its connection
    (and, before the body is read, the app's attention) for ever, and every idle socket
    is accepted. Here the header must be complete ``header_timeout_s`` after the
    request's first byte (or after the connection opens), the whole request
    ``read_timeout_s`` after it, as Go's ``ReadHeaderTimeout`` and ``ReadTimeout`` do;
    :class:`_Admission` caps the connections.
    """

    read_timeout_s = 15.0
    header_timeout_s = 15.0
    admission = _Admission(None)
    _deadline: asyncio.TimerHandle | None = None
    _read_by = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.admission.admit(self):
            self.drop()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        # The clock starts at a new request's first byte (idle time is keep-alive's job).
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._arm()
        super().data_received(data)
        self._disarm_when_read()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        pending, _ = self.conn.trailing_data
        if self.conn.their_state is h11.SEND_BODY or pending:
            if self._deadline is None:
                self._arm()
        else:
            self._disarm_when_read()

    def connection_lost(self, exc: Exception | None) -> None:
        self.admission.leave(self)
        self._cancel()
        super().connection_lost(exc)

    def evictable(self) -> bool:
        """Not in the middle of a request: idle, or its header not complete yet."""
        idle = self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE
        return idle and (self.cycle is None or self.cycle.response_complete)

    def drop(self) -> None:
        """End the connection without an answer (like Go at a deadline)."""
        self._cancel()
        if not self.transport.is_closing():
            self.transport.close()

    def _arm(self) -> None:
        now = self.loop.time()
        self._read_by = now + self.read_timeout_s
        self._schedule(min(now + self.header_timeout_s, self._read_by))

    def _schedule(self, when: float) -> None:
        self._cancel()
        self._deadline = self.loop.call_at(when, self._expire)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _disarm_when_read(self) -> None:
        state = self.conn.their_state
        if state is h11.SEND_BODY and self._deadline is not None:
            self._schedule(self._read_by)  # the header is in; the body has the rest
        elif state is not h11.IDLE and state is not h11.SEND_BODY:
            self._cancel()

    def _expire(self) -> None:
        self._deadline = None
        # Like Go: no answer, the connection just ends; an app awaiting the body sees a
        # disconnect.
        self.drop()


def _deadline_protocol(
    read_timeout_s: float, header_timeout_s: float, max_connections: int | None
) -> type[H11Protocol]:
    attributes = {
        "read_timeout_s": read_timeout_s,
        "header_timeout_s": min(header_timeout_s, read_timeout_s),
        "admission": _Admission(max_connections),  # one per server
    }
    return type("DeadlineProtocol", (_DeadlineProtocol,), attributes)


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound socket; binding here turns 'port in use' into our error, not uvicorn's exit."""
    if not 0 <= port <= 65535:
        raise HarnessError(f"port {port} is out of range (0-65535; 0 picks a free port)")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as exc:
        raise HarnessError(f"cannot resolve {host!r}: {exc}") from exc
    # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # IPPROTO_TCP, and without it every response body waits out a 40 ms delayed ACK.
    sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise HarnessError(f"cannot listen on {host}:{port}: {reason}") from exc
    return sock


class LoopbackServer:
    """One uvicorn server for `app` on `host:port` (0 picks a free port).

    ``read_timeout`` (seconds) bounds how long a client may take to send one request,
    ``header_timeout`` its header (both on when ``read_timeout`` is set);
    ``max_connections`` caps open connections (see :class:`_Admission`).
    """

    def __init__(
        self,
        app: Any,
        *,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        read_timeout: float | None = None,
        header_timeout: float | None = None,
        max_connections: int | None = None,
    ) -> None:
        self.app, self.name, self.host, self.port = app, name, host, port
        self.read_timeout = read_timeout
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.url = ""
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    def _config(self) -> uvicorn.Config:
        http: Any = http_parser
        if self.read_timeout is not None:
            header = self.header_timeout if self.header_timeout is not None else self.read_timeout
            http = _deadline_protocol(self.read_timeout, header, self.max_connections)
        return uvicorn.Config(
            self.app,
            lifespan="off",
            log_level="warning",
            log_config=None,
            access_log=False,
            http=http,
            # uvicorn's limit counts the connection asking, so N + 1 serves N at once; with
            # our protocol the admission keeps the count (a 503 would lock clients out).
            limit_concurrency=None
            if self.max_connections is None or self.read_timeout is not None
            else self.max_connections + 1,
            # A dribbling response must not hold shutdown hostage.
            timeout_graceful_shutdown=1,
        )

    async def start(self) -> str:
        sock = bind_socket(self.host, self.port)
        server = _Server(self._config())
        task = asyncio.get_running_loop().create_task(_serve(server, sock))
        self._server, self._task = server, task
        try:
            async with asyncio.timeout(_START_TIMEOUT_S):
                while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                    if task.done():  # _serve has closed the socket
                        raise HarnessError(f"server {self.name!r} stopped while starting")
                    await asyncio.sleep(0.005)
        except BaseException:
            # Cancelled (a stop signal) or timed out while starting: the owner never got a
            # URL, so may never call stop(), and the serve task would wait for ever (an
            # interrupted suite then waited out its whole cleanup grace).
            with contextlib.suppress(Exception):
                await self.stop()
            raise
        self.port = server.servers[0].sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"
        return self.url

    def request_stop(self) -> None:
        """Tell the server to stop, without waiting: its task then ends on its own, even
        if whoever asked is cancelled before it can await :meth:`stop`."""
        if self._server is not None:
            _drop_unfinished_requests(self._server)
            self._server.should_exit = True
            self._server.stopping.set()

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self.request_stop()
        server, task, self._server, self._task = self._server, self._task, None, None
        try:
            await task
        except Exception as exc:
            raise HarnessError(f"server {self.name!r} failed while stopping: {exc!r}") from exc
        # Handlers still running end on their own once their client is gone; waiting
        # for them keeps "Exception in ASGI application" (a cancelled task) out of logs.
        tasks = set(server.server_state.tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=_STOP_TIMEOUT_S)


async def _serve(server: _Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    finally:
        # uvicorn told to exit during its start-up returns without its shutdown (0.30:
        # `if self.should_exit: return`), leaving the listening socket open.
        for listener in server.servers:
            listener.close()
        sock.close()


def _drop_unfinished_requests(server: _Server) -> None:
    """Disconnect clients still sending a request: it can never be answered now."""
    for connection in list(server.server_state.connections):
        cycle = getattr(connection, "cycle", None)
        if cycle is not None and cycle.more_body and not cycle.response_started:
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.close()
