"""Credentials as an HTTP step's ``authentication`` block describes them, and the pure
pieces of sending them: one home for the executor (which sends them on every attempt) and
the provider contract (which sends them to a live backend the way the flows would).

Nothing here does I/O or keeps state: ``credentials_of`` renders a block into an
:class:`ApiKey`, :class:`Basic` or :class:`ClientCredentials` with the caller's own
template renderer; ``basic_header`` builds RFC 7617 basic credentials; a client-credentials
token request (RFC 6749 section 4.4) is ``ClientCredentials.token_request``, its answer is
read by ``parse_token``. The token cache and the fetch itself stay with their users.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, urlencode

__all__ = [
    "ApiKey",
    "Basic",
    "ClientCredentials",
    "Credential",
    "Token",
    "TokenError",
    "TokenKey",
    "basic_header",
    "credentials_of",
    "parse_token",
]


def basic_header(user: str, password: str) -> str:
    """``Authorization: Basic ...`` for a user and password (RFC 7617)."""
    raw = f"{user}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class TokenKey:
    """What a token is cached by: endpoint, client and scopes."""

    endpoint: str
    client_id: str
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    access_token: str = field(repr=False)
    expires_at: float  # on the caller's clock, seconds


class TokenError(Exception):
    """The token endpoint did not hand out a token."""

    def __init__(self, code: str, status: int = 0) -> None:
        self.code = code
        self.status = status
        super().__init__(f"token fetch failed: {code} (status {status})")


def parse_token(status: int, body: bytes, now: float) -> Token:
    """A token from a token endpoint's answer, or :class:`TokenError`."""
    if status != 200:
        raise TokenError(f"token_endpoint_http_{status}", status)
    try:
        data = json.loads(body)
        access = str(data["access_token"])
        expires_in = float(data.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise TokenError("token_response_malformed", status) from exc
    return Token(access_token=access, expires_at=now + expires_in)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """An API key sent in a request header."""

    header: str
    value: str = field(repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {self.header: self.value}


@dataclass(frozen=True, slots=True, kw_only=True)
class Basic:
    """HTTP basic credentials."""

    username: str
    password: str = field(repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": basic_header(self.username, self.password)}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientCredentials:
    """OAuth2 client credentials: where and as whom a token is fetched."""

    token_endpoint: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = ()

    @property
    def key(self) -> TokenKey:
        return TokenKey(self.token_endpoint, self.client_id, self.scopes)

    def token_request(self) -> tuple[dict[str, str], bytes]:
        """Headers and form body of the token request: the client authenticates with
        basic credentials, its id and secret form-urlencoded first (RFC 6749 section
        2.3.1), so a secret holding `%`, `+` or `&` reaches the server intact."""
        form = {"grant_type": "client_credentials"}
        if self.scopes:
            form["scope"] = " ".join(self.scopes)
        user, password = quote_plus(self.client_id), quote_plus(self.client_secret)
        headers = {
            "Authorization": basic_header(user, password),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return headers, urlencode(form).encode()


Credential = ApiKey | Basic | ClientCredentials


def credentials_of(auth: Mapping[str, Any] | None, text: Callable[[Any], str]) -> Credential | None:
    """The credentials an ``authentication`` block names, each value rendered by ``text``
    (the caller's templates: a call's variables, or ``--set`` values); None for none."""
    if not auth:
        return None
    kind = auth.get("type")
    if kind == "apiKey":
        return ApiKey(
            header=text(auth.get("headerName", "")), value=text(auth.get("headerValue", ""))
        )
    if kind == "basic":
        return Basic(
            username=text(auth.get("username", "")), password=text(auth.get("password", ""))
        )
    if kind == "oauth2":
        return ClientCredentials(
            token_endpoint=text(auth.get("tokenEndpoint", "")),
            client_id=text(auth.get("clientId", "")),
            client_secret=text(auth.get("clientSecret", "")),
            scopes=tuple(text(s) for s in auth.get("scopes") or []),
        )
    return None
