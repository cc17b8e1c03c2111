"""ASGI middleware that records every request and applies a backend's faults.

Faults act in four places around the real handler::

    delay            before anything (the handler runs late)
    status, not_found, rate_limit, malformed, token_expired
                     instead of the handler (a canned response)
    empty, accepted  inside the handler (they need the domain)
    rename_field, oversized, dribble
                     on the way out (they rewrite or pace the body)

Control paths (``/__faults``, ``/__requests``) bypass all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.clock import Clock

from .faults import FaultSet, RecordedRequest, RequestLog, Trace
from .faultspec import FaultSpec

__all__ = ["FaultMiddleware"]

_BEFORE = frozenset({"delay"})
_INSTEAD = frozenset({"status", "not_found", "rate_limit", "malformed", "token_expired"})
# A body that starts like the real one and stops: what a truncated proxy write looks like.
_MALFORMED = b'{"status": "ok", "data": [{"id": "ACC-1001", "attributes": {'


class FaultMiddleware:
    """Wraps one backend app; see the module docstring for the order of faults."""

    def __init__(
        self, app: ASGIApp, *, backend: str, faults: FaultSet, log: RequestLog, clock: Clock
    ) -> None:
        self.app = app
        self.backend = backend
        self.faults = faults
        self.log = log
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        trace = Trace.of(scope["headers"])
        self.faults.requests += 1
        applied: list[str] = []
        status = 0
        # The body is read up front, so the journal has its hash even when a fault answers
        # instead of the handler; the handler reads it back from `replay`.
        body, receive = await _buffered(receive)

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        def take(kinds: frozenset[str]) -> FaultSpec | None:
            spec = self.faults.take(kinds, method, path, trace)
            if spec is not None:
                applied.append(spec.kind)
            return spec

        try:
            delay = take(_BEFORE)
            if delay is not None:
                await self.clock.sleep(delay.ms / 1000)
            outgoing: Send = recording_send
            transforms = [
                t for t in (take(frozenset({k})) for k in ("rename_field", "oversized")) if t
            ]
            dribble = take(frozenset({"dribble"}))
            if transforms or dribble:
                outgoing = _Rewriter(recording_send, receive, transforms, dribble, self.clock).send
            instead = take(_INSTEAD)
            if instead is not None:
                await canned_response(instead)(scope, receive, outgoing)
            else:
                await self.app(scope, receive, outgoing)
        finally:
            if self.log.keeping:  # a load shard keeps no journal
                self.log.append(
                    RecordedRequest(
                        backend=self.backend,
                        method=method,
                        path=path,
                        query=RequestLog.redact_query(scope.get("query_string", b"")),
                        headers=RequestLog.redact(scope["headers"]),
                        status=status,
                        faults=tuple(applied),
                        at_ms=self.clock.wall_ms(),
                        call_id=trace.call_id if trace else "",
                        step=trace.step if trace else "",
                        attempt=trace.attempt if trace else 0,
                        body_sha256=hashlib.sha256(body).hexdigest(),
                    )
                )


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a `receive` that hands it out again, then goes live."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            pending: list[Message] = [message]
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            pending = []
            break
    body = b"".join(chunks)
    queue: list[Message] = [{"type": "http.request", "body": body, "more_body": False}, *pending]

    async def replay() -> Message:
        return queue.pop(0) if queue else await receive()

    return body, replay


def canned_response(spec: FaultSpec) -> Response:
    """The response a status-like fault sends instead of the handler's."""
    if spec.kind == "malformed":
        return Response(_MALFORMED, media_type="application/json")
    if spec.kind == "token_expired":
        challenge = 'Bearer error="invalid_token", error_description="token expired"'
        return JSONResponse(
            {"error": "token_expired"}, status_code=401, headers={"www-authenticate": challenge}
        )
    if spec.kind == "rate_limit":
        body = spec.body if spec.body is not None else {"error": "rate_limited"}
        return JSONResponse(body, status_code=429, headers={"retry-after": str(spec.retry_after)})
    status = 404 if spec.kind == "not_found" else spec.status
    headers = dict(spec.headers)
    if status in (204, 304):
        return Response(status_code=status, headers=headers)
    body = spec.body if spec.body is not None else {"error": _slug(status)}
    return JSONResponse(body, status_code=status, headers=headers)


def _slug(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return f"http_{status}"


class _Rewriter:
    """Buffers the response, rewrites its body, then sends it whole or a drip at a time."""

    def __init__(
        self,
        send: Send,
        receive: Receive,
        transforms: list[FaultSpec],
        dribble: FaultSpec | None,
        clock: Clock,
    ) -> None:
        self._send = send
        self._receive = receive
        self._transforms = transforms
        self._dribble = dribble
        self._clock = clock
        self._start: Message | None = None
        self._body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._start = message
            return
        if message["type"] != "http.response.body" or self._start is None:
            await self._send(message)
            return
        self._body += message.get("body", b"")
        if message.get("more_body", False):
            return
        body = bytes(self._body)
        for spec in self._transforms:
            body = _rewrite(spec, body)
        headers = [(k, v) for k, v in self._start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self._send({**self._start, "headers": headers})
        if self._dribble is None:
            await self._send({"type": "http.response.body", "body": body})
        else:
            await self._drip(body, self._dribble)

    async def _drip(self, body: bytes, spec: FaultSpec) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            # The handler has read the request, so the next message is the disconnect.
            while (await self._receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            step = spec.bytes_per_chunk
            for start in range(0, len(body), step):
                if gone.is_set():
                    return
                if start:
                    await self._clock.sleep(spec.interval_ms / 1000)
                chunk = body[start : start + step]
                more = start + step < len(body)
                await self._send({"type": "http.response.body", "body": chunk, "more_body": more})
            if not body:
                await self._send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


def _rewrite(spec: FaultSpec, body: bytes) -> bytes:
    try:
        document = json.loads(body)
    except ValueError:
        document = _NOT_JSON
    if spec.kind == "rename_field":
        if document is _NOT_JSON:
            return body
        return json.dumps(_rename(document, spec.rename_from, spec.rename_to)).encode()
    # oversized: keep the real payload (mappings still work), pad it past the cap.
    base = document if isinstance(document, dict) else {"data": None}
    if document is not _NOT_JSON and not isinstance(document, dict):
        base = {"data": document}
    skeleton = json.dumps({**base, "padding": ""}).encode()
    padding = max(0, spec.bytes - len(skeleton) + 1)
    return json.dumps({**base, "padding": "x" * padding}).encode()


_NOT_JSON: Any = object()


def _rename(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {(new if k == old else k): _rename(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(item, old, new) for item in value]
    return value
