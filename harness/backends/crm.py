"""CRM account lookup (the guide's api.crm-provider.com): ``GET /v2/accounts?phone=``."""

from __future__ import annotations

import phonenumbers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .faults import Trace
from .oauth import TokenError, verify_token
from .state import SharedState

__all__ = ["normalize_phone", "routes"]

_REALM = 'Bearer realm="crm"'


def normalize_phone(raw: str) -> str | None:
    """E.164 form of ``raw`` as a CRM would store it, or None when it is no phone number.

    A raw ``+`` in a query string decodes to a space (the guide's unencoded
    ``?phone={{phone_number}}``); like a real CRM we normalise rather than
    miss, so the lookup still finds the caller.
    """
    try:
        number = phonenumbers.parse(raw.strip(), "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    text: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return text


def routes(state: SharedState) -> list[BaseRoute]:
    """``GET /v2/accounts``."""

    async def accounts(request: Request) -> Response:
        refusal = _authorize(state, request)
        if refusal is not None:
            return refusal
        raw = request.query_params.getlist("phone")
        if len(raw) != 1:
            body = {"error": "invalid_request", "message": "exactly one 'phone' is required"}
            return JSONResponse(body, status_code=400)
        path = request.url.path
        if state.faults["crm"].take(
            frozenset({"empty"}), request.method, path, Trace.of(request.headers)
        ) is not None:
            return JSONResponse({"status": "ok", "data": []})
        phone = normalize_phone(raw[0]) if len(raw[0]) <= 64 else None
        account = state.accounts.get(phone) if phone else None
        data = [account.to_json()] if account else []
        return JSONResponse({"status": "ok", "data": data})

    return [Route("/v2/accounts", accounts, methods=["GET"])]


def _authorize(state: SharedState, request: Request) -> Response | None:
    """None when the bearer token is valid and carries the required scopes (RFC 6750)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _refuse(401, "invalid_token", "missing bearer token")
    try:
        claims = verify_token(state, token.strip())
    except TokenError as exc:
        return _refuse(401, exc.code, "token expired" if exc.code == "token_expired" else "")
    granted = set(str(claims.get("scope", "")).split())
    required = state.required_scopes()
    if not set(required) <= granted:
        challenge = f'{_REALM}, error="insufficient_scope", scope="{" ".join(required)}"'
        body = {"error": "insufficient_scope", "scope": " ".join(required)}
        return JSONResponse(body, status_code=403, headers={"www-authenticate": challenge})
    return None


def _refuse(status: int, code: str, description: str) -> Response:
    # RFC 6750 has one code for every bad token; `token_expired` stays in the body.
    challenge = f'{_REALM}, error="invalid_token"'
    if description:
        challenge += f', error_description="{description}"'
    return JSONResponse(
        {"error": code}, status_code=status, headers={"www-authenticate": challenge}
    )
