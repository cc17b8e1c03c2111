"""The Flow API stand-in: flows by id with versions, OAuth2 scopes, the `/__faults` control.

``contracts/openapi/flowapi.yaml`` describes it: ``POST /auth/token`` (client
credentials), ``GET /api/v2/flow/flows``, and ``GET``/``PUT``/``DELETE``
``/api/v2/flow/flows/{flowId}``. The state is :class:`~harness.backends.flowstore.FlowStore`;
the same :class:`FaultMiddleware` and control API as every other backend put 503 storms,
409s, 429 + ``Retry-After``, a slow or lost response (``dribble``) and a delay before the
handler in front of it::

    async with FlowApiStandIn(clients={"deployer": "s3cret"}) as api:
        api.url                                   # http://127.0.0.1:PORT
        api.faults.add({"kind": "status", "status": 503, "times": 3, "method": "PUT"})
        api.store.flows["customer-lookup-ivr"].text
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.asgi_server import LoopbackServer
from harness.clock import Clock, RealClock
from harness.errors import UnsafeTargetError
from harness.flow.loader import load_flow
from harness.loopback import is_loopback

from .app import _http_error
from .faults import FaultSet, RecordedRequest, RequestLog, control_routes
from .faultspec import KINDS
from .flowstore import ApiProblem, FlowStore, required_scopes
from .middleware import FaultMiddleware
from .oauth import _client as client_credentials

__all__ = ["FLOWAPI_FAULT_KINDS", "FlowApiStandIn", "build_flowapi_app", "seed_documents"]

FLOWS = "/api/v2/flow/flows"
# Everything that acts on requests; `empty`, `accepted` and `rotate_scopes` need a CRM or
# ticket domain and mean nothing here.
FLOWAPI_FAULT_KINDS = frozenset(KINDS) - {"empty", "accepted", "rotate_scopes"}
_MAX_BODY = 4 * 1024 * 1024


def build_flowapi_app(store: FlowStore, faults: FaultSet, log: RequestLog) -> Starlette:
    """The ASGI app of the stand-in over ``store``, behind the fault middleware."""
    routes = control_routes(faults, log) + [
        Route("/auth/token", _token(store), methods=["POST"]),
        Route(FLOWS, _list(store), methods=["GET"]),
        Route(FLOWS + "/{flow_id}", _one(store), methods=["GET", "PUT", "DELETE"]),
    ]
    middleware = Middleware(
        FaultMiddleware, backend="flowapi", faults=faults, log=log, clock=store.clock
    )
    handlers = {404: _http_error, 405: _http_error}
    app = Starlette(routes=routes, middleware=[middleware], exception_handlers=handlers)
    app.router.redirect_slashes = False
    return app


class _WholeRequests:
    """Reads each request whole before the app (and its faults) see it, as the load
    balancer in front of a platform does: a write whose client gave up mid-delay is still
    carried out. That is the case a client's rollback must fence off."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        pending = [{"type": "http.request", "body": bytes(body), "more_body": False}]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)


def _problem(exc: ApiProblem) -> Response:
    headers = {}
    if exc.status == 401:
        headers["www-authenticate"] = f'Bearer error="{exc.code}"'
    if exc.status == 403:
        scope = exc.extra.get("scope", "")
        headers["www-authenticate"] = f'Bearer error="insufficient_scope", scope="{scope}"'
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _token(store: FlowStore) -> Any:
    async def token(request: Request) -> Response:
        try:
            form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            form = {}
        if form.get("grant_type") != "client_credentials":
            return _problem(ApiProblem(400, "unsupported_grant_type", "use client_credentials"))
        client = client_credentials(request, form)
        try:
            if client is None:
                raise ApiProblem(401, "invalid_client", "client authentication failed")
            scope = form.get("scope")
            body = store.issue(client[0], client[1], scope.split() if scope else None)
        except ApiProblem as exc:
            return _problem(exc)
        return JSONResponse(body, headers={"cache-control": "no-store"})

    return token


def _list(store: FlowStore) -> Any:
    async def list_flows(request: Request) -> Response:
        try:
            store.authorize(request.headers.get("authorization", ""), ("api:read",))
        except ApiProblem as exc:
            return _problem(exc)
        flows = [
            {
                "id": flow_id,
                "name": stored.document.get("name", ""),
                "flowType": stored.document.get("flowType", ""),
                "version": stored.version,
            }
            for flow_id, stored in sorted(store.flows.items())
        ]
        return JSONResponse({"flows": flows})

    return list_flows


def _one(store: FlowStore) -> Any:
    async def one(request: Request) -> Response:
        flow_id = request.path_params["flow_id"]
        auth = request.headers.get("authorization", "")
        try:
            if request.method == "GET":
                store.authorize(auth, required_scopes("GET"))
                return _served(store, flow_id)
            store.authorize(auth, ("flow:edit",))
            if_match = request.headers.get("if-match")
            if request.method == "DELETE":
                store.delete(flow_id, if_match=if_match)
                return Response(status_code=204)
            document = store.check(flow_id, await _json(request))
            store.authorize(auth, required_scopes("PUT", document))
            stored, created = store.put(
                flow_id,
                document,
                if_match=if_match,
                if_none_match=request.headers.get("if-none-match"),
            )
        except ApiProblem as exc:
            return _problem(exc)
        return Response(
            stored.text,
            status_code=201 if created else 200,
            media_type="application/json",
            headers={"etag": stored.etag},
        )

    return one


def _served(store: FlowStore, flow_id: str) -> Response:
    stored = store.flows.get(flow_id)
    if stored is None:
        raise ApiProblem(404, "not_found", f"no flow '{flow_id}'")
    return Response(stored.text, media_type="application/json", headers={"etag": stored.etag})


async def _json(request: Request) -> Any:
    body = await request.body()
    if len(body) > _MAX_BODY:
        raise ApiProblem(413, "too_large", f"a flow document is at most {_MAX_BODY} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiProblem(400, "invalid_flow", f"body is not JSON: {exc}", pointer="") from None


def seed_documents(path: Path) -> list[dict[str, Any]]:
    """The flow documents of a folder (or one file), schema-checked, to start a tenant with."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    return [json.loads(load_flow(file).source) for file in files]


class FlowApiStandIn:
    """The Flow API on a real loopback server, over one :class:`FlowStore`."""

    def __init__(
        self,
        *,
        clients: Mapping[str, str] | None = None,
        grants: Mapping[str, Sequence[str]] | None = None,
        flows: Iterable[Mapping[str, Any]] = (),
        token_ttl_s: float = 3600,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        clock: Clock | None = None,
        allow_non_loopback: bool = False,
    ) -> None:
        if not allow_non_loopback and not is_loopback(host):
            raise UnsafeTargetError(
                f"refusing to serve the Flow API stand-in on non-loopback host {host!r}; "
                "pass allow_non_loopback=True (CLI: --allow-non-loopback) if you mean it"
            )
        self.store = FlowStore(
            clients=clients if clients is not None else {"deployer": "secret"},
            grants=grants,
            token_ttl_s=token_ttl_s,
            clock=clock or RealClock(),
        )
        self.store.seed(flows)
        self.faults = FaultSet("flowapi", allowed_kinds=FLOWAPI_FAULT_KINDS, seed=seed)
        self.log = RequestLog()
        self._server = LoopbackServer(
            _WholeRequests(build_flowapi_app(self.store, self.faults, self.log)),
            name="flowapi",
            host=host,
            port=port,
        )
        self.url = ""

    async def __aenter__(self) -> Self:
        self.url = await self._server.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._server.stop()

    def requests(self, method: str | None = None) -> list[RecordedRequest]:
        """Every request answered so far (optionally of one method), oldest first."""
        return [r for r in self.log.entries() if method is None or r.method == method]
