"""Toxic types: their attributes (Toxiproxy's JSON names and units) and their stages.

Each toxic is a frozen dataclass whose fields are its attributes, all integers
as in Toxiproxy, and whose ``run`` is the :class:`~.streams.Stage` behaviour.
:data:`TOXIC_TYPES` is the registry the API validates ``type`` against.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .streams import TIMED_OUT, Chunk, Stage, StagePort

__all__ = ["TOXIC_TYPES", "ToxicSpec", "build_stage"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToxicSpec:
    """A toxic as the API shows it."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: Mapping[str, int]

    @property
    def direction(self) -> str:
        return self.stream.lower()

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }


@dataclass(frozen=True, slots=True)
class Noop:
    """Passes everything through; also what a toxic becomes when toxicity says "not this one"."""

    close_on_remove: ClassVar[bool] = False

    async def run(self, port: StagePort) -> None:
        while (chunk := await port.get()) is not None:
            port.emit(chunk)
        port.end()


@dataclass(frozen=True, slots=True)
class Latency:
    """Delays each chunk by ``latency`` +- ``jitter`` ms after it was read."""

    latency: int = 0
    jitter: int = 0
    close_on_remove: ClassVar[bool] = False

    async def run(self, port: StagePort) -> None:
        while (chunk := await port.get()) is not None:
            delay = self.latency
            if self.jitter > 0:
                delay += port.rng.randrange(-self.jitter, self.jitter)
            due = chunk.stamp + delay / 1000
            wait = due - port.clock.monotonic()
            if wait > 0:
                await port.sleep(wait)
            # Restamping lets a second latency toxic add to this one instead of overlapping.
            port.emit(Chunk(chunk.data, due))
        port.end()


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """Limits throughput to ``rate`` KB/s (1 KB = 1000 bytes).

    A rate of 0 or less delivers nothing until the toxic is removed, as Toxiproxy 2.12
    does (its sender loops on empty chunks); the held data then flows on unharmed.
    """

    rate: int = 0
    close_on_remove: ClassVar[bool] = False

    async def run(self, port: StagePort) -> None:
        due = port.clock.monotonic()
        if self.rate <= 0:
            # Take nothing: queued data stays in the input pipe and moves on, in order,
            # when the toxic is removed (the stage is cancelled here).
            await asyncio.get_running_loop().create_future()
        while (chunk := await port.get()) is not None:
            per_second = self.rate * 1000
            now = port.clock.monotonic()
            # A small lag is a sleep overshoot and is paid back; a large one means we were idle.
            if now - due > 0.02:
                due = now
            data = chunk.data
            piece_size = self.rate * 100
            while data:
                piece, data = data[:piece_size], data[piece_size:]
                due += len(piece) / per_second
                wait = due - port.clock.monotonic()
                if wait > 0:
                    await port.sleep(wait)
                port.emit(Chunk(piece, chunk.stamp), Chunk(data, chunk.stamp) if data else None)
        port.end()


@dataclass(frozen=True, slots=True)
class SlowClose:
    """Delays the close by ``delay`` ms once the stream has ended."""

    delay: int = 0
    close_on_remove: ClassVar[bool] = False

    async def run(self, port: StagePort) -> None:
        while (chunk := await port.get()) is not None:
            port.emit(chunk)
        await port.sleep(self.delay / 1000)
        port.end()


@dataclass(frozen=True, slots=True)
class Timeout:
    """Swallows all data; closes after ``timeout`` ms without data (0: never).

    Removing it closes the connection, as in Toxiproxy.
    """

    timeout: int = 0
    close_on_remove: ClassVar[bool] = True

    async def run(self, port: StagePort) -> None:
        while True:
            if self.timeout > 0:
                got = await port.get_within(self.timeout / 1000)
                if got is TIMED_OUT:
                    break
            else:
                got = await port.get()
            if got is None:
                break
            port.drop()
        port.end()


@dataclass(frozen=True, slots=True)
class ResetPeer:
    """On the first data (or end), waits ``timeout`` ms then resets both sockets (RST)."""

    timeout: int = 0
    close_on_remove: ClassVar[bool] = False

    async def run(self, port: StagePort) -> None:
        await port.get()
        port.drop()
        await port.sleep(self.timeout / 1000)
        port.end(reset=True)


@dataclass(frozen=True, slots=True)
class Slicer:
    """Cuts chunks into ~``average_size`` +- ``size_variation`` byte pieces, ``delay`` us apart."""

    average_size: int = 0
    size_variation: int = 0
    delay: int = 0
    close_on_remove: ClassVar[bool] = False

    async def run(self, port: StagePort) -> None:
        while (chunk := await port.get()) is not None:
            bounds = self.cuts(len(chunk.data), port)
            for start, stop in zip(bounds, bounds[1:], strict=False):
                rest = Chunk(chunk.data[stop:], chunk.stamp) if stop < len(chunk.data) else None
                port.emit(Chunk(chunk.data[start:stop], chunk.stamp), rest)
                if rest is not None:
                    await port.sleep(self.delay / 1_000_000)
        port.end()

    def cuts(self, size: int, port: StagePort) -> list[int]:
        """Piece boundaries, by recursive halving with a random nudge."""
        average = max(self.average_size, 1)  # 0 would split forever
        bounds = [0]
        pending = [(0, size)]
        while pending:
            start, stop = pending.pop()
            if (stop - start) - average <= self.size_variation or stop - start < 2:
                bounds.append(stop)
                continue
            mid = start + (stop - start) // 2
            if self.size_variation > 0:
                mid += port.rng.randrange(-self.size_variation, self.size_variation)
            mid = min(max(mid, start + 1), stop - 1)
            pending.append((mid, stop))
            pending.append((start, mid))
        return bounds


@dataclass(frozen=True, slots=True)
class LimitData:
    """Closes the stream once ``bytes`` bytes have gone through (counted per connection)."""

    bytes: int = 0
    close_on_remove: ClassVar[bool] = False

    async def run(self, port: StagePort) -> None:
        while (chunk := await port.get()) is not None:
            sent = port.state.get("sent", 0)
            remaining = max(self.bytes - sent, 0)
            if remaining > 0:
                piece = chunk.data[:remaining]
                port.state["sent"] = sent + len(piece)
                port.emit(Chunk(piece, chunk.stamp))
            else:
                port.drop()
            if self.bytes - port.state.get("sent", 0) <= 0:
                break
        port.end()


TOXIC_TYPES: dict[str, type[Any]] = {
    "noop": Noop,
    "latency": Latency,
    "bandwidth": Bandwidth,
    "slow_close": SlowClose,
    "timeout": Timeout,
    "reset_peer": ResetPeer,
    "slicer": Slicer,
    "limit_data": LimitData,
}


def attribute_names(toxic_type: str) -> list[str]:
    """The attribute names a toxic type accepts, in Toxiproxy's order."""
    return [f.name for f in dataclasses.fields(TOXIC_TYPES[toxic_type])]


def default_attributes(toxic_type: str) -> dict[str, int]:
    return {name: 0 for name in attribute_names(toxic_type)}


def build_stage(spec: ToxicSpec) -> Stage:
    """The stage that applies ``spec`` to one connection."""
    stage: Stage = TOXIC_TYPES[spec.type](**dict(spec.attributes))
    return stage


def closes_on_remove(spec: ToxicSpec) -> bool:
    return bool(TOXIC_TYPES[spec.type].close_on_remove)
