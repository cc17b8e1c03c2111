"""A stub backend from a team's OpenAPI spec: every operation served, credentials enforced.

Each operation answers its success response (the spec's example, else one generated
from the schema, deterministic per seed). The spec's security requirements are
enforced the way a gateway would at the door: the credential must be present and
well formed (an API key header that is not blank, a `Bearer` token68, a `Basic`
user:password); a stub cannot know which values the real backend accepts, so it
does not judge them. The app is wrapped in the same :class:`FaultMiddleware` as the
reference backends, so every HTTP fault of the vocabulary applies to it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from harness.clock import Clock

from .domain import domain_fault, emptied
from .faults import FaultSet, RequestLog, control_routes
from .middleware import FaultMiddleware
from .openapi_examples import Operation, load_operations, security_schemes
from .webhook import WebhookSender

__all__ = ["build_stub_app", "credential_problem"]

_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def build_stub_app(
    spec_path: Path,
    *,
    name: str,
    faults: FaultSet,
    log: RequestLog,
    clock: Clock,
    sender: WebhookSender,
    seed: int = 0,
) -> Starlette:
    """The stub of one spec, behind the fault middleware, with `/__faults` and `/__requests`."""
    spec, operations = load_operations(spec_path, seed=seed)
    schemes = security_schemes(spec)
    jobs: list[str] = []
    by_path: dict[str, list[Operation]] = {}
    for op in operations:
        by_path.setdefault(op.path, []).append(op)
    routes: list[BaseRoute] = list(control_routes(faults, log))
    for path, ops in by_path.items():
        handler = _handler(ops, schemes, faults, sender, jobs)
        routes.append(Route(path, handler, methods=[o.method for o in ops]))
    middleware = Middleware(FaultMiddleware, backend=name, faults=faults, log=log, clock=clock)
    app = Starlette(routes=routes, middleware=[middleware])
    app.router.redirect_slashes = False
    return app


def _handler(
    ops: list[Operation],
    schemes: Mapping[str, Any],
    faults: FaultSet,
    sender: WebhookSender,
    jobs: list[str],
) -> Any:
    by_method = {op.method: op for op in ops}

    async def handle(request: Request) -> Response:
        op = by_method[request.method]
        problem = credential_problem(op.security, schemes, request)
        if problem:
            return JSONResponse(
                {"error": "unauthorized", "message": problem},
                status_code=401,
                headers={"www-authenticate": 'Bearer error="invalid_token"'},
            )
        kind, response = domain_fault(faults, request, sender, jobs)
        if response is not None:
            return response
        if op.body is None:
            return Response(status_code=op.status)
        body = emptied(op.body) if kind == "empty" else op.body
        return JSONResponse(body, status_code=op.status)

    return handle


def credential_problem(
    requirements: tuple[Mapping[str, Any], ...], schemes: Mapping[str, Any], request: Request
) -> str:
    """ "" when one security requirement is met (all its schemes), else why none is."""
    if not requirements:
        return ""
    problems = []
    for requirement in requirements:
        found = (_scheme_problem(name, schemes.get(name), request) for name in requirement)
        missing = [why for why in found if why]
        if not missing:
            return ""
        problems.append("; ".join(missing))
    return problems[0]


def _scheme_problem(name: str, scheme: Any, request: Request) -> str:
    if not isinstance(scheme, Mapping):
        return f"security scheme {name!r} is not defined in the spec"
    kind = scheme.get("type")
    if kind == "apiKey":
        where, key = scheme.get("in", "header"), str(scheme.get("name", ""))
        source = {"query": request.query_params, "cookie": request.cookies}.get(
            where, request.headers
        )
        value = source.get(key, "")
        return "" if value.strip() and value == value.strip() else f"{key} ({where}) is missing"
    authorization = request.headers.get("authorization", "")
    scheme_word, _, credential = authorization.partition(" ")
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
        return "" if _basic_ok(scheme_word, credential) else "Basic credentials are missing"
    if kind in ("http", "oauth2", "openIdConnect"):
        ok = scheme_word.lower() == "bearer" and _TOKEN68.fullmatch(credential.strip() or "-")
        return "" if ok and credential.strip() else "a Bearer token is missing or malformed"
    return ""  # mutualTLS and unknown types: nothing a plain HTTP stub can check


def _basic_ok(word: str, credential: str) -> bool:
    if word.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(credential.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return ":" in decoded
