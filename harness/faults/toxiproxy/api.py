"""The Toxiproxy HTTP API as a Starlette app: routes, JSON shapes, status codes, error bodies.

Starlette (served by uvicorn on the caller's loop) was chosen over a hand-written
HTTP/1.1 parser: the API is control-plane traffic, a few requests per test, so
its overhead is irrelevant, while h11 gives correct HTTP (keep-alive, chunked
bodies, a 400 for a garbled request line) for free.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from .collection import ProxyCollection
from .decode import decode
from .errors import ApiError

__all__ = ["TOXIPROXY_VERSION", "build_app"]

TOXIPROXY_VERSION = "2.12.0"
"""The Toxiproxy release whose API this server follows."""

Handler = Callable[[Request], Awaitable[Response]]


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status_code=status, media_type="application/json")


def _error(err: ApiError) -> Response:
    # Go's http.Error: compact JSON, a trailing newline, and a text/plain content type.
    body = json.dumps({"error": err.message, "status": err.status}, separators=(",", ":"))
    return Response(
        body + "\n",
        status_code=err.status,
        headers={"X-Content-Type-Options": "nosniff"},
        media_type="text/plain; charset=utf-8",
    )


async def _body(request: Request) -> Any:
    return decode(request.state.body)


async def _read_body(request: Request, limit: int) -> bytes:
    """The whole body, read before any lock is taken: a slow client holds only itself."""
    too_large = ApiError(f"request body too large: the limit is {limit} bytes", 413)
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


_MACHINE = os.urandom(3)
_COUNTER = itertools.count(random.randrange(1 << 24))


def request_id() -> str:
    """A fresh id shaped like the xid Toxiproxy's zerolog middleware sets (20 base32 chars)."""
    raw = (
        int(time.time()).to_bytes(4, "big")
        + _MACHINE
        + (os.getpid() & 0xFFFF).to_bytes(2, "big")
        + (next(_COUNTER) & 0xFFFFFF).to_bytes(3, "big")
    )
    return base64.b32hexencode(raw).decode("ascii").rstrip("=").lower()


def build_app(collection: ProxyCollection) -> Starlette:
    """The ASGI app serving ``collection``."""

    def guarded(handler: Handler, *, locked: bool = True) -> Handler:
        async def endpoint(request: Request) -> Response:
            if request.method == "HEAD":  # gorilla mux does not answer HEAD for GET routes
                return Response(status_code=405)
            response = await answer(request, handler, locked)
            # Toxiproxy's request-id middleware runs on every routed request.
            response.headers["X-Toxiproxy-Request-Id"] = request_id()
            return response

        return endpoint

    async def answer(request: Request, handler: Handler, locked: bool) -> Response:
        if request.headers.get("user-agent", "").startswith("Mozilla/"):
            return Response("User agent not allowed\n", 403, media_type="text/plain")
        try:
            request.state.body = await _read_body(request, collection.limits.max_body_bytes)
            if not locked:
                return await handler(request)
            async with collection.lock:
                return await handler(request)
        except ApiError as err:
            return _error(err)
        except ClientDisconnect:
            # Gone (or dropped by the read deadline): nobody is left to answer.
            return Response(status_code=400)

    def name(request: Request, key: str = "proxy") -> str:
        return str(request.path_params[key])

    async def proxy_index(request: Request) -> Response:
        return _json({n: p.to_json() for n, p in collection.proxies.items()})

    async def proxy_create(request: Request) -> Response:
        proxy = await collection.create(await _body(request))
        return _json(proxy.to_json(), 201)

    async def populate(request: Request) -> Response:
        # Toxiproxy answers every populate failure as JSON with the proxies done so far.
        try:
            done, err = await collection.populate(await _body(request))
        except ApiError as exc:
            done, err = [], exc
        data: dict[str, Any] = {}
        if err is not None:
            data = {"error": err.message, "status": err.status}
        # Go marshals an empty result as null, and clients accept that.
        data["proxies"] = [p.to_json() for p in done] or None
        return _json(data, err.status if err is not None else 201)

    async def proxy_show(request: Request) -> Response:
        return _json(collection.get(name(request)).to_json())

    async def proxy_update(request: Request) -> Response:
        proxy = collection.get(name(request))
        proxy = await collection.update(proxy.name, await _body(request))
        return _json(proxy.to_json())

    async def proxy_delete(request: Request) -> Response:
        await collection.delete(name(request))
        return Response(status_code=204)

    async def reset(request: Request) -> Response:
        await collection.reset()
        return Response(status_code=204)

    async def toxic_index(request: Request) -> Response:
        return _json(collection.get(name(request)).toxics_json())

    async def toxic_create(request: Request) -> Response:
        collection.get(name(request))
        spec = collection.add_toxic(name(request), await _body(request))
        return _json(spec.to_json())

    async def toxic_show(request: Request) -> Response:
        return _json(collection.get_toxic(name(request), name(request, "toxic")).to_json())

    async def toxic_update(request: Request) -> Response:
        collection.get_toxic(name(request), name(request, "toxic"))
        body = await _body(request)
        return _json(collection.update_toxic(name(request), name(request, "toxic"), body).to_json())

    async def toxic_delete(request: Request) -> Response:
        collection.remove_toxic(name(request), name(request, "toxic"))
        return Response(status_code=204)

    async def version(request: Request) -> Response:
        body = json.dumps({"version": TOXIPROXY_VERSION}) + "\n"
        return Response(body, media_type="application/json;charset=utf-8")

    proxy = "/proxies/{proxy}"
    toxic = "/proxies/{proxy}/toxics/{toxic}"
    routes = [
        Route("/reset", guarded(reset), methods=["POST"]),
        Route("/proxies", guarded(proxy_index), methods=["GET"]),
        Route("/proxies", guarded(proxy_create), methods=["POST"]),
        Route("/populate", guarded(populate), methods=["POST"]),
        Route(proxy, guarded(proxy_show), methods=["GET"]),
        Route(proxy, guarded(proxy_update), methods=["POST", "PATCH"]),
        Route(proxy, guarded(proxy_delete), methods=["DELETE"]),
        Route(f"{proxy}/toxics", guarded(toxic_index), methods=["GET"]),
        Route(f"{proxy}/toxics", guarded(toxic_create), methods=["POST"]),
        Route(toxic, guarded(toxic_show), methods=["GET"]),
        Route(toxic, guarded(toxic_update), methods=["POST", "PATCH"]),
        Route(toxic, guarded(toxic_delete), methods=["DELETE"]),
        Route("/version", guarded(version, locked=False), methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.router.redirect_slashes = False  # /proxies/ is a 404 on Toxiproxy, not a redirect
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    # Gorilla mux's plain answers for unknown paths and wrong methods.
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    text = "404 page not found\n" if status == 404 else ""
    return Response(text, status_code=status, media_type="text/plain; charset=utf-8")
