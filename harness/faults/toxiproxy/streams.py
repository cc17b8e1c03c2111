"""The data path of one direction of one proxied connection.

A :class:`Link` carries bytes from a source socket to a destination socket
through an ordered chain of toxic stages::

    source --feed--> Pipe --stage 1--> Pipe --stage 2--> Sink --> destination

Each stage is one asyncio task that reads :class:`Chunk` objects from its
input :class:`Pipe` through a :class:`StagePort` and emits them to whatever the
port's ``output`` points at. Pipes are unbounded and never block a writer, so
rewiring the chain is a synchronous pointer swap: a stage is only ever
suspended at an ``await``, and a cancelled task runs no more of our code, so
the data a stage holds at the moment of ``cancel()`` is exactly what its port
records in ``held``. That is what lets toxics be added, updated and removed on
a live connection without losing or reordering a byte (Toxiproxy's
ToxicStub/interrupt dance is not needed on a single-threaded loop).

Backpressure is applied at the edges instead: a :class:`Flow` counts the bytes
sitting in a link's pipes and pauses the source socket past a high-water mark
or while the destination socket's own buffer is full.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from harness.clock import Clock

__all__ = ["Chunk", "ChunkSink", "End", "Flow", "Link", "Pipe", "Stage", "StagePort", "TIMED_OUT"]

_HIGH_WATER = 1 << 20
_LOW_WATER = 1 << 18


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes read from a socket, stamped with the clock time they were read."""

    data: bytes
    stamp: float


@dataclass(frozen=True, slots=True)
class End:
    """End of stream; ``reset`` asks for a TCP RST instead of a FIN."""

    reset: bool = False


TIMED_OUT = object()
"""Returned by :meth:`StagePort.get_within` when nothing arrived in time."""


class ChunkSink(Protocol):
    """Where a stage's output goes: the next stage's pipe, or the destination socket."""

    def put(self, chunk: Chunk) -> None: ...

    def close(self, *, reset: bool = False) -> None: ...


class Stage(Protocol):
    """One toxic applied to one direction of one connection.

    ``run`` must leave ``port.held`` describing every byte it took from its
    input and has not emitted whenever it awaits: it can be cancelled there.
    It must never swallow ``CancelledError``.
    """

    async def run(self, port: StagePort) -> None: ...


class Flow:
    """Counts bytes buffered inside a link and pauses its source when too many pile up."""

    def __init__(self) -> None:
        self.buffered = 0
        self.dest_paused = False
        self.pause_source: Callable[[], None] = lambda: None
        self.resume_source: Callable[[], None] = lambda: None
        self._paused = False

    def adjust(self, delta: int) -> None:
        self.buffered += delta
        self.update()

    def update(self) -> None:
        if not self._paused and (self.buffered > _HIGH_WATER or self.dest_paused):
            self._paused = True
            self.pause_source()
        elif self._paused and self.buffered <= _LOW_WATER and not self.dest_paused:
            self._paused = False
            self.resume_source()


class Pipe:
    """An unbounded FIFO of chunks between two stages, with one reader."""

    def __init__(self, flow: Flow) -> None:
        self._items: deque[Chunk | End] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._flow = flow

    def put(self, chunk: Chunk) -> None:
        self._items.append(chunk)
        self._flow.adjust(len(chunk.data))
        self._wake()

    def close(self, *, reset: bool = False) -> None:
        self._items.append(End(reset))
        self._wake()

    def push_front(self, item: Chunk | End) -> None:
        self._items.appendleft(item)
        if isinstance(item, Chunk):
            self._flow.adjust(len(item.data))
        self._wake()

    def take(self) -> Chunk | End:
        item = self._items.popleft()
        if isinstance(item, Chunk):
            self._flow.adjust(-len(item.data))
        return item

    def take_all(self) -> list[Chunk | End]:
        return [self.take() for _ in range(len(self._items))]

    def __len__(self) -> int:
        return len(self._items)

    async def wait(self) -> None:
        """Return once an item is available, without taking it (so cancelling loses nothing)."""
        while not self._items:
            if self._waiter is None or self._waiter.done():
                self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def forward(item: Chunk | End, sink: ChunkSink) -> None:
    """Send one pipe item on to a sink."""
    if isinstance(item, Chunk):
        sink.put(item)
    else:
        sink.close(reset=item.reset)


class StagePort:
    """A stage's view of the link: its input, its (re-pointable) output, its clock and RNG."""

    def __init__(self, pipe: Pipe, output: ChunkSink, clock: Clock, rng: random.Random) -> None:
        self.input = pipe
        self.output = output
        self.clock = clock
        self.rng = rng
        self.held: Chunk | End | None = None
        self.closed = False
        # Per-connection toxic state that outlives updates (limit_data's byte count).
        self.state: dict[str, int] = {}

    async def get(self) -> Chunk | None:
        """The next chunk, or None at end of stream. It stays ``held`` until emitted."""
        await self.input.wait()
        return self._take()

    async def get_within(self, seconds: float) -> Chunk | None | object:
        """Like :meth:`get`, but returns :data:`TIMED_OUT` if nothing arrives in time."""
        if not len(self.input):
            waiter = asyncio.ensure_future(self.input.wait())
            sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
            try:
                await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                sleeper.cancel()
            if not len(self.input):
                return TIMED_OUT
        return self._take()

    def _take(self) -> Chunk | None:
        item = self.input.take()
        self.held = item
        return item if isinstance(item, Chunk) else None

    def emit(self, chunk: Chunk, rest: Chunk | None = None) -> None:
        """Send ``chunk`` on; ``rest`` is what this stage still holds afterwards."""
        self.held = rest
        if not self.closed:
            self.output.put(chunk)

    def drop(self) -> None:
        """Discard what this stage holds."""
        self.held = None

    def end(self, *, reset: bool = False) -> None:
        """Close this stage's output: everything after it sees end of stream."""
        self.held = None
        if not self.closed:
            self.closed = True
            self.output.close(reset=reset)

    async def sleep(self, seconds: float) -> None:
        await self.clock.sleep(seconds)


@dataclass(slots=True)
class _Slot:
    name: str
    stage: Stage
    port: StagePort
    task: asyncio.Task[None]
    close_on_remove: bool


class Link:
    """One direction of one connection: ``feed`` bytes in, they reach ``sink`` after the stages."""

    def __init__(
        self, sink: ChunkSink, flow: Flow, clock: Clock, rng: Callable[[], random.Random]
    ) -> None:
        self.sink = sink
        self.flow = flow
        self.clock = clock
        self._rng = rng  # asked for only once a toxic is added: most links never draw
        self.fed_end = False
        self._slots: list[_Slot] = []
        self._entry: ChunkSink = sink

    @property
    def rng(self) -> random.Random:
        return self._rng()

    def feed(self, data: bytes) -> None:
        if not self.fed_end:
            self._entry.put(Chunk(data, self.clock.monotonic()))

    def feed_end(self) -> None:
        if not self.fed_end:
            self.fed_end = True
            self._entry.close()

    def add(self, name: str, stage: Stage, *, close_on_remove: bool = False) -> None:
        """Append a stage at the end of the chain; data already past the chain is unaffected."""
        pipe = Pipe(self.flow)
        if self._slots:
            last = self._slots[-1].port
            port = StagePort(pipe, last.output, self.clock, self.rng)
            last.output = pipe
        else:
            port = StagePort(pipe, self.sink, self.clock, self.rng)
            self._entry = pipe
        self._slots.append(_Slot(name, stage, port, self._start(stage, port), close_on_remove))

    def update(self, name: str, stage: Stage) -> None:
        """Swap a stage's behaviour in place; what it held is processed again by the new one."""
        slot = self._find(name)
        if slot is None:
            return
        slot.task.cancel()
        if slot.port.held is not None and not slot.port.closed:
            slot.port.input.push_front(slot.port.held)
            slot.port.held = None
        slot.stage = stage
        if not slot.port.closed:
            slot.task = self._start(stage, slot.port)

    def remove(self, name: str) -> None:
        """Take a stage out; what it held and its queued input move on, in order."""
        slot = self._find(name)
        if slot is None:
            return
        slot.task.cancel()
        index = self._slots.index(slot)
        port = slot.port
        if slot.close_on_remove:
            port.end()
        elif not port.closed:
            pending = ([port.held] if port.held is not None else []) + port.input.take_all()
            for item in pending:
                forward(item, port.output)
        if index == 0:
            self._entry = port.output
        else:
            self._slots[index - 1].port.output = port.output
        if port.closed:
            # Everything fed from now on must be discarded, as the stage would have done.
            self._redirect_to_void(index, port)
        del self._slots[index]

    def _redirect_to_void(self, index: int, port: StagePort) -> None:
        void = _Void()
        if index == 0:
            self._entry = void
        else:
            self._slots[index - 1].port.output = void

    def stop(self) -> None:
        """Cancel every stage task (the connection is gone)."""
        for slot in self._slots:
            slot.task.cancel()

    def _find(self, name: str) -> _Slot | None:
        return next((s for s in self._slots if s.name == name), None)

    def _start(self, stage: Stage, port: StagePort) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(stage.run(port))
        task.add_done_callback(self._stage_done)
        return task

    def _stage_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # A broken stage must not wedge the connection: close it instead.
            self.sink.close(reset=True)


class _Void:
    """A sink that discards: what follows a stage that ended the stream."""

    def put(self, chunk: Chunk) -> None:
        pass

    def close(self, *, reset: bool = False) -> None:
        pass
