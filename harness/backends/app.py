"""App factory: one Starlette app per backend, each behind its fault middleware."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from . import crm, oauth, tickets
from .faults import control_routes
from .middleware import FaultMiddleware
from .state import BACKENDS, SharedState
from .webhook import WebhookSender

__all__ = ["build_app"]


def build_app(name: str, state: SharedState, sender: WebhookSender) -> Starlette:
    """The ASGI app of backend ``name`` ("crm", "tickets" or "oauth") over ``state``."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    domain: list[BaseRoute]
    if name == "crm":
        domain = crm.routes(state)
    elif name == "tickets":
        domain = tickets.routes(state, sender)
    else:
        domain = oauth.routes(state)
    middleware = Middleware(
        FaultMiddleware,
        backend=name,
        faults=state.faults[name],
        log=state.logs[name],
        clock=state.clock,
    )
    routes = control_routes(state.faults[name], state.logs[name]) + domain
    handlers = {404: _http_error, 405: _http_error}
    app = Starlette(routes=routes, middleware=[middleware], exception_handlers=handlers)
    # A trailing-slash redirect would turn GET /v1/tickets/ into a 405 on another route.
    app.router.redirect_slashes = False
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    # JSON like every other error of ours, so clients parse one error shape.
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "error")
    headers = exc.headers if isinstance(exc, HTTPException) else None
    return JSONResponse({"error": code}, status_code=status, headers=headers)
