"""OAuth2 client-credentials token server (the guide's auth.crm-provider.com).

Tokens are HS256 JWTs so a flow's ``decodeJwt`` can read ``exp`` and ``scope``;
the CRM verifies them with the same in-process secret.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .state import SharedState

__all__ = ["TokenError", "issue_token", "routes", "verify_token"]

_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


class TokenError(Exception):
    """A bearer token the CRM must refuse; ``code`` is the body's ``error``."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


def issue_token(
    state: SharedState, client_id: str, scopes: Sequence[str], *, ttl_s: int | None = None
) -> str:
    """Sign a token for ``client_id``; a negative ``ttl_s`` forges an expired one for tests."""
    now = state.clock.wall_ms() // 1000
    ttl = state.config.token_ttl_s if ttl_s is None else ttl_s
    claims = {
        "iss": state.config.issuer,
        "sub": client_id,
        "client_id": client_id,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, state.config.jwt_secret, algorithm="HS256")


def verify_token(state: SharedState, token: str) -> dict[str, Any]:
    """The claims of a token this server issued; raises :class:`TokenError` otherwise."""
    try:
        # Time claims are checked against the injected clock below, not PyJWT's
        # time.time(): under a scaled clock a fresh token's iat is "in the future".
        claims: dict[str, Any] = jwt.decode(
            token,
            state.config.jwt_secret,
            algorithms=["HS256"],
            issuer=state.config.issuer,
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["exp", "iat", "sub", "scope", "jti"],
            },
        )
    except jwt.InvalidTokenError as exc:
        raise TokenError("invalid_token") from exc
    exp = claims["exp"]
    if not isinstance(exp, int | float) or exp <= state.clock.wall_ms() / 1000:
        raise TokenError("token_expired")
    return claims


def routes(state: SharedState) -> list[BaseRoute]:
    """``POST /oauth/token``."""

    async def token(request: Request) -> Response:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/x-www-form-urlencoded":
            return _error(400, "invalid_request", "body must be application/x-www-form-urlencoded")
        try:
            pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return _error(400, "invalid_request", "body is not a valid form")
        form: dict[str, str] = {}
        for key, value in pairs:
            if key in form:  # RFC 6749 3.2: parameters must not repeat
                return _error(400, "invalid_request", f"parameter {key!r} repeated")
            form[key] = value
        client = _client(request, form)
        expected = state.config.clients.get(client[0]) if client else None
        if (
            client is None
            or expected is None
            or not secrets.compare_digest(expected.encode(), client[1].encode())
        ):
            headers = {"www-authenticate": 'Basic realm="oauth"'}
            return _error(401, "invalid_client", "client authentication failed", headers)
        grant = form.get("grant_type")
        if grant is None:
            return _error(400, "invalid_request", "grant_type is required")
        if grant != "client_credentials":
            return _error(400, "unsupported_grant_type", "only client_credentials is supported")
        raw = form.get("scope")
        scopes = list(state.required_scopes()) if raw is None else raw.split(" ")
        unknown = [s for s in scopes if s not in state.issuable_scopes()]
        if unknown:
            return _error(400, "invalid_scope", f"unknown scope(s): {' '.join(unknown)!r}")
        body = {
            "access_token": issue_token(state, client[0], scopes),
            "token_type": "Bearer",
            "expires_in": state.config.token_ttl_s,
            "scope": " ".join(scopes),
        }
        return JSONResponse(body, headers=_NO_STORE)

    return [Route("/oauth/token", token, methods=["POST"])]


def _client(request: Request, form: dict[str, str]) -> tuple[str, str] | None:
    """Client credentials from HTTP Basic (preferred) or the form body."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, sep, secret = decoded.partition(":")
        # RFC 6749 2.3.1: both halves are form-urlencoded before base64 ('+' is a space).
        return (unquote_plus(client_id), unquote_plus(secret)) if sep else None
    if "client_id" in form and "client_secret" in form:
        return form["client_id"], form["client_secret"]
    return None


def _error(
    status: int, code: str, description: str, headers: dict[str, str] | None = None
) -> Response:
    body = {"error": code, "error_description": description}
    return JSONResponse(body, status_code=status, headers={**_NO_STORE, **(headers or {})})
