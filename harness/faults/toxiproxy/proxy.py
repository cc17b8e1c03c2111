"""A proxy: a listening socket, its live connections, and its toxics.

Every accepted client gets a :class:`Connection`: a socket to the upstream and
two :class:`~.streams.Link` objects (upstream = client to server, downstream =
server to client). As in Toxiproxy there is no half-close: when one link ends
it closes its destination socket, which ends the other link in turn.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import random
import socket
import struct
from collections.abc import Callable
from typing import cast

from harness.clock import Clock
from harness.loopback import is_loopback

from .address import ListenError, format_address, resolve, resolve_now
from .streams import Chunk, Flow, Link, Stage
from .toxics import ToxicSpec, build_stage, closes_on_remove

__all__ = ["Budget", "Connection", "Proxy"]

DIRECTIONS = ("upstream", "downstream")

log = logging.getLogger(__name__)


def _drain(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    try:
        while os.read(sock.fileno(), 65536):
            pass
    except OSError:  # BlockingIOError once nothing is left; anything else: nothing to drain
        pass


class _Sink:
    """The end of a link: writes to the destination socket."""

    def __init__(self, connection: Connection, side: _Endpoint) -> None:
        self._connection = connection
        self._side = side

    def put(self, chunk: Chunk) -> None:
        transport = self._side.transport
        if transport is not None and not transport.is_closing():
            transport.write(chunk.data)

    def close(self, *, reset: bool = False) -> None:
        if reset:
            self._connection.reset()
        else:
            self._side.close()


class _Endpoint(asyncio.Protocol):
    """One of the connection's two sockets: feeds one link, is written by the other."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.transport: asyncio.Transport | None = None
        self.inbound: Link | None = None
        self.outbound_flow: Flow | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's stream transports implement asyncio.Transport without subclassing it.
        if not callable(getattr(transport, "write", None)):
            raise TypeError("stream transport expected")
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        if self.inbound is not None:
            self.inbound.feed(data)
        else:
            self.early(data)

    def early(self, data: bytes) -> None:
        """Bytes before the link exists (only the client's, while the upstream is dialled)."""

    def eof_received(self) -> bool:
        if self.inbound is not None:
            self.inbound.feed_end()
        return True  # keep the socket open: the other link may still be writing to it

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.inbound is not None:
            self.inbound.feed_end()
        self.connection.endpoint_lost()

    def pause_writing(self) -> None:
        if self.outbound_flow is not None:
            self.outbound_flow.dest_paused = True
            self.outbound_flow.update()

    def resume_writing(self) -> None:
        if self.outbound_flow is not None:
            self.outbound_flow.dest_paused = False
            self.outbound_flow.update()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self, *, reset: bool = False) -> None:
        if self.transport is None or self.lost:
            return
        if reset:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0 makes close() send RST and drop unsent data, like Go's SetLinger(0).
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


# How long a client whose upstream refused may keep its side open after our FIN.
_REFUSED_LINGER_S = 1.0


class _Accepted(_Endpoint):
    """The client side. The upstream is dialled from the moment the socket is accepted;
    what the client sends meanwhile is held (up to 64 KiB, then reading pauses) and goes
    first once the link exists, so no epoll round trip is spent pausing and resuming."""

    _EARLY_LIMIT = 1 << 16

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.held: list[bytes] = []
        self.held_bytes = 0
        self.paused = False
        self.eof = False
        self.refused = False  # the upstream refused: what the client sends is dropped

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.refused:
            self.connection._refused()
        elif self.connection.links and self.transport is not None:
            # Wired first (the dial won the race): the link's backpressure needs this socket.
            flow = self.connection.links["upstream"].flow
            flow.pause_source = self.transport.pause_reading
            flow.resume_source = self.transport.resume_reading

    def early(self, data: bytes) -> None:
        if self.refused:
            return  # dropped: no upstream will ever read it
        self.held.append(data)
        self.held_bytes += len(data)
        if self.held_bytes > self._EARLY_LIMIT and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        if self.refused:
            return False  # both sides have closed: the transport closes the socket
        if self.inbound is None:
            self.eof = True
            return True
        return super().eof_received()

    def release(self) -> None:
        """The link exists: send on what was held, in order."""
        held, self.held, self.held_bytes = self.held, [], 0
        if self.inbound is not None:
            for data in held:
                self.inbound.feed(data)
            if self.eof:
                self.inbound.feed_end()
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()


class Budget:
    """Client connections all proxies may hold at once (each costs two file descriptors)."""

    def __init__(self, limit: Callable[[], int]) -> None:
        self.used = 0
        self._limit = limit
        self._known = 0

    def take(self) -> bool:
        if self.used >= self._known:
            # Asked again only when the budget looks spent (a raised limit counts at
            # once); a lowered one shows as a failed dial, which refuses the client.
            self._known = self._limit()
            if self.used >= self._known:
                return False
        self.used += 1
        return True

    def give(self) -> None:
        self.used -= 1


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class Connection:
    """One client connection and its upstream connection."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.client = _Accepted(self)
        self.upstream = _Endpoint(self)
        self.links: dict[str, Link] = {}
        self._task: asyncio.Task[None] | None = None
        self._dialling: socket.socket | None = None
        self._finished = False
        self._seed = 0
        self._rng: random.Random | None = None

    def start(self) -> None:
        """Dial the upstream now (called as the client socket is accepted, before its
        transport exists): the dial overlaps the accept, as in Toxiproxy's goroutine.

        An upstream that needs no lookup is dialled right here: no task, and no loop
        turns spent waking one. Over loopback the connect completes at once and the
        socket is wrapped in a transport in this turn; a dial still in progress is
        watched by a writer callback. A name to look up, or a loop without selector
        transports (uvloop), dials in a task.
        """
        loop = self.proxy.loop
        try:
            known = resolve_now(self.proxy.upstream)
        except ValueError:
            known = None
        make = getattr(loop, "_make_socket_transport", None)
        if known is None or make is None:
            self._task = loop.create_task(self._connect())
            return
        host = known[0] or "127.0.0.1"
        if not self._allowed(host):
            self._refused()
            return
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        address = (host, known[1])
        try:
            sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        except OSError:  # out of descriptors: the client is refused, as a failed dial
            self._refused()
            return
        error = sock.connect_ex(address)
        if error == errno.EINPROGRESS:
            # Over loopback the kernel completes the handshake inside connect(): asking
            # again says so (0), and no loop turn is spent waiting to be told.
            error = sock.connect_ex(address)
        if error in (errno.EINPROGRESS, errno.EALREADY):
            self._dialling = sock
            loop.add_writer(sock.fileno(), self._dialled, sock, address)
        elif error in (0, errno.EISCONN):
            self._wrap(sock, address)
        else:
            sock.close()
            self._refused()

    def _dialled(self, sock: socket.socket, address: tuple[str, int]) -> None:
        self.proxy.loop.remove_writer(sock.fileno())
        self._dialling = None
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            sock.close()
            self._refused()
            return
        self._wrap(sock, address)

    def _wrap(self, sock: socket.socket, address: tuple[str, int]) -> None:
        # asyncio's own selector transport (what create_connection would build, a loop
        # turn later); it calls connection_made on the next turn, writes work at once.
        make = self.proxy.loop._make_socket_transport  # type: ignore[attr-defined]
        self.upstream.transport = make(sock, self.upstream, extra={"peername": address})
        self._connected()

    async def _connect(self) -> None:
        loop = self.proxy.loop
        try:
            # Resolved at each connection, as Go's net.Dial does; an empty host is this machine.
            host, port = await resolve(self.proxy.upstream)
            host = host or "127.0.0.1"
            if not self._allowed(host):
                raise ConnectionRefusedError
            await loop.create_connection(lambda: self.upstream, host, port)
        except (OSError, ValueError):
            self._refused()
            return
        self._connected()

    def _allowed(self, host: str) -> bool:
        if self.proxy.allow_non_loopback or is_loopback(host):
            return True
        # The harness's rule, applied where traffic would leave: nothing is sent.
        log.warning(
            "proxy %s: refused a client: upstream %s is %s, not loopback "
            "(serve with --allow-non-loopback to relay there)",
            self.proxy.name, self.proxy.upstream, host,
        )  # fmt: skip
        return False

    def _refused(self) -> None:
        # Toxiproxy's client sees EOF here. Closing a socket with bytes unread, or still
        # to come, makes Linux send RST instead: so a FIN now, what the client sends is
        # read and dropped, and the socket is closed once the client closes its side
        # (or after _REFUSED_LINGER_S).
        self.client.refused = True
        client = self.client.transport
        if client is None:
            return  # connection_made comes back here
        _drain(client)
        if client.can_write_eof():
            client.write_eof()
            self.proxy.loop.call_later(_REFUSED_LINGER_S, client.close)
        else:
            client.close()

    def _connected(self) -> None:
        if self.client.lost:
            self.upstream.close()
            return
        self._wire()
        self.client.release()

    def _wire(self) -> None:
        # The connection's own seed is drawn now, in accept order; the generator is
        # built from it only if a toxic needs it (building one costs 4 us).
        self._seed = self.proxy.rng.getrandbits(64)
        for direction, source, dest in (
            ("upstream", self.client, self.upstream),
            ("downstream", self.upstream, self.client),
        ):
            flow = Flow()
            transport = source.transport
            if transport is not None:
                flow.pause_source = transport.pause_reading
                flow.resume_source = transport.resume_reading
            link = Link(_Sink(self, dest), flow, self.proxy.clock, self._random)
            source.inbound = link
            dest.outbound_flow = flow
            self.links[direction] = link
        for spec in self.proxy.toxics.values():
            self.add_toxic(spec)

    def _random(self) -> random.Random:
        if self._rng is None:
            self._rng = random.Random(self._seed)
        return self._rng

    def add_toxic(self, spec: ToxicSpec) -> None:
        link = self.links.get(spec.direction)
        if link is not None:
            link.add(spec.name, self._stage(link, spec), close_on_remove=closes_on_remove(spec))

    def update_toxic(self, spec: ToxicSpec) -> None:
        link = self.links.get(spec.direction)
        if link is not None:
            link.update(spec.name, self._stage(link, spec))

    def remove_toxic(self, spec: ToxicSpec) -> None:
        link = self.links.get(spec.direction)
        if link is not None:
            link.remove(spec.name)

    @staticmethod
    def _stage(link: Link, spec: ToxicSpec) -> Stage:
        # Toxicity is rolled once per connection (and again on update, as Toxiproxy re-runs).
        if link.rng.random() < spec.toxicity:
            return build_stage(spec)
        return build_stage(ToxicSpec(name="", type="noop", stream="", toxicity=1, attributes={}))

    def reset(self) -> None:
        self.client.abort(reset=True)
        self.upstream.abort(reset=True)

    def abort(self) -> None:
        if self._task is not None:
            self._task.cancel()
        sock, self._dialling = self._dialling, None
        if sock is not None:
            self.proxy.loop.remove_writer(sock.fileno())
            sock.close()
        self.client.abort()
        self.upstream.abort()

    def endpoint_lost(self) -> None:
        if self.client.lost and (self.upstream.lost or self.upstream.transport is None):
            self._finish()

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        self.proxy.budget.give()
        for link in self.links.values():
            link.stop()
        self.proxy.connections.discard(self)


class Proxy:
    """A named proxy. ``listen`` holds the bound address once started, so restarts reuse it."""

    loop: asyncio.AbstractEventLoop
    """The loop it listens on, from :meth:`start` (asking asyncio costs a getpid)."""

    def __init__(
        self,
        *,
        name: str,
        listen: str,
        upstream: str,
        clock: Clock,
        rng: random.Random,
        max_connections: int = 1024,
        budget: Budget | None = None,
        allow_non_loopback: bool = False,
    ) -> None:
        self.name = name
        self.allow_non_loopback = allow_non_loopback
        """Dial a non-loopback upstream; without it such clients are closed, nothing sent."""
        self.max_connections = max_connections
        self.budget = budget or Budget(lambda: max_connections)
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.clock = clock
        self.rng = rng
        self.toxics: dict[str, ToxicSpec] = {}
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "Logger": {},  # Toxiproxy 2.12 serialises its untagged logger field like this
            "toxics": self.toxics_json(),
        }

    def toxics_json(self) -> list[dict[str, object]]:
        ordered = sorted(self.toxics.values(), key=lambda t: DIRECTIONS.index(t.direction))
        return [t.to_json() for t in ordered]

    async def start(self) -> None:
        """Listen; raises ListenError with Go's text (``listen tcp 127.0.0.1:1: bind: ...``)."""
        if self.enabled:
            return
        try:
            host, port = await resolve(self.listen)
        except ValueError as exc:
            raise ListenError(f"listen tcp: {exc}") from None
        # An empty host means "every interface" in Go; the harness stays on loopback.
        host = host or "127.0.0.1"
        try:
            # Go's net.Listen queues up to somaxconn connections; asyncio's default of
            # 100 overflows under a burst of callers and the kernel drops SYNs, which
            # clients retry 1 s, 3 s, 7 s later: seconds of dead air that are ours.
            self.loop = asyncio.get_running_loop()
            self._server = await self.loop.create_server(
                self._accept, host, port, reuse_address=True, backlog=socket.SOMAXCONN
            )
        except OSError as exc:
            # asyncio rewrites strerror; Go prints the bare, lower-case errno text.
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            call = "socket" if exc.errno in (errno.EMFILE, errno.ENFILE) else "bind"
            where = format_address(host, port)
            raise ListenError(f"listen tcp {where}: {call}: {reason}") from None
        bound = self._server.sockets[0].getsockname()
        self.listen = format_address(bound[0], bound[1])
        self.enabled = True

    async def stop(self) -> None:
        """Stop listening and drop every live connection."""
        if not self.enabled:
            return
        self.enabled = False
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for connection in list(self.connections):
            connection.abort()
        self.connections.clear()
        if server is not None:
            await server.wait_closed()

    def _accept(self) -> asyncio.Protocol:
        if len(self.connections) >= self.max_connections or not self.budget.take():
            # Bounded file descriptors: the client is told at once, by a closed socket.
            return _Refused()
        connection = Connection(self)
        self.connections.add(connection)
        connection.start()
        return connection.client

    def add_toxic(self, spec: ToxicSpec) -> None:
        self.toxics[spec.name] = spec
        for connection in list(self.connections):
            connection.add_toxic(spec)

    def update_toxic(self, spec: ToxicSpec) -> None:
        self.toxics[spec.name] = spec
        for connection in list(self.connections):
            connection.update_toxic(spec)

    def remove_toxic(self, name: str) -> None:
        spec = self.toxics.pop(name)
        for connection in list(self.connections):
            connection.remove_toxic(spec)
