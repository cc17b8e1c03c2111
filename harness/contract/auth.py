"""How the provider run authenticates: the way the flows do.

Real providers reject anonymous calls, so the provider run sends what a flow's HTTP step
would: a bearer token fetched from the OAuth2 token endpoint (client credentials), an API
key in a header or the query, basic credentials, or a fixed bearer token. Secrets come from
options or the environment and are never printed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import httpx

from harness.errors import ConfigError, UnreachableError
from harness.flow.credentials import (
    ApiKey,
    Basic,
    ClientCredentials,
    TokenError,
    credentials_of,
    parse_token,
)
from harness.flow.expr import ExpressionError, substitute_text
from harness.flow.model import FlowSet

__all__ = ["OAuthClient", "ProviderAuth", "auth_from_flows", "fetch_token"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OAuthClient:
    """Client-credentials settings; the secret is ``secret`` or read from ``secret_env``."""

    token_url: str
    client_id: str
    secret_env: str = ""
    secret: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderAuth:
    """Credentials added to every provider request."""

    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    basic: tuple[str, str] | None = None
    oauth: OAuthClient | None = None

    @property
    def is_empty(self) -> bool:
        """No credentials of any kind."""
        return not (self.headers or self.query or self.cookies or self.basic or self.oauth)

    @property
    def secrets(self) -> list[str]:
        values = [*self.headers.values(), *self.query.values(), *self.cookies.values()]
        if self.basic:
            values.append(self.basic[1])
        return [v for v in values if v]

    def resolved(self, *, timeout_s: float = 10.0) -> ProviderAuth:
        """This auth with an OAuth token fetched into an ``Authorization`` header."""
        if self.oauth is None:
            return self
        token = fetch_token(self.oauth, timeout_s=timeout_s)
        headers = {**self.headers, "Authorization": f"Bearer {token}"}
        return ProviderAuth(
            headers=headers, query=self.query, cookies=self.cookies, basic=self.basic
        )


def fetch_token(client: OAuthClient, *, timeout_s: float = 10.0) -> str:
    """A client-credentials access token (RFC 6749 section 4.4)."""
    secret = client.secret if client.secret else os.environ.get(client.secret_env or "-")
    if secret is None:
        raise ConfigError(
            f"no OAuth client secret (environment variable {client.secret_env or '?'} is unset)",
            file="--oauth-client-secret-env",
            hint="export the secret and name it, or --set-env the flow's secret variable",
        )
    request = ClientCredentials(
        token_endpoint=client.token_url,
        client_id=client.client_id,
        client_secret=secret,
        scopes=client.scopes,
    )
    headers, form = request.token_request()
    try:
        response = httpx.post(client.token_url, content=form, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise UnreachableError(f"cannot reach token endpoint {client.token_url}: {exc}") from None
    try:
        return parse_token(response.status_code, response.content, 0.0).access_token
    except TokenError:
        raise UnreachableError(
            f"token endpoint {client.token_url} answered {response.status_code} without an "
            "access_token (check the client id, secret and scopes)"
        ) from None


def auth_from_flows(
    flows: FlowSet,
    host: str,
    *,
    variables: Mapping[str, Any],
    routes: Mapping[str, str] | None = None,
) -> ProviderAuth:
    """The authentication the flows use for ``host``.

    Templated values are filled from ``variables`` (``--set``) and flow defaults; ``routes``
    (host -> base URL, as ``--base-url``) redirects token endpoints. A step with an
    ``authentication`` block is followed as written; a step that sends ``Bearer {{token}}``
    from a cache gets a token the way the flows' token job fetches one; the token
    endpoint's own host gets the client credentials as basic auth (RFC 6749 2.3.1).
    """
    routes = routes or {}
    sources = _token_sources(flows, variables, routes)
    for client in sources:
        if urlsplit(client.token_url).hostname == host or _routed_host(client, routes) == host:
            # RFC 6749 2.3.1: client credentials are form-urlencoded before Basic auth.
            basic = (quote_plus(client.client_id), quote_plus(client.secret or ""))
            return ProviderAuth(basic=basic)
    for flow in flows:
        for step in flow.http_steps():
            if urlsplit(str(step.config.get("url", ""))).hostname != host:
                continue
            auth = step.config.get("authentication")
            scope = {**flow.variables, **variables}
            if isinstance(auth, dict):
                return _auth_of(auth, scope, routes)
            headers = step.config.get("headers") or {}
            if "bearer {{" in str(headers.get("Authorization", "")).lower() and sources:
                return ProviderAuth(oauth=sources[0])
    return ProviderAuth()


def _routed_host(client: OAuthClient, routes: Mapping[str, str]) -> str | None:
    for name, base in routes.items():
        if client.token_url.startswith(base.rstrip("/")):
            return name
    return None


def _token_sources(
    flows: FlowSet, variables: Mapping[str, Any], routes: Mapping[str, str]
) -> list[OAuthClient]:
    """Every client-credentials token fetch the flows describe (oauth2 blocks, token jobs)."""
    found: list[OAuthClient] = []
    for flow in flows:
        scope = {**flow.variables, **variables}
        for step in flow.http_steps():
            auth = step.config.get("authentication")
            if not isinstance(auth, dict):
                continue
            body = str(step.config.get("body", ""))
            if auth.get("type") == "oauth2":
                oauth = _auth_of(auth, scope, routes).oauth
                found.extend([oauth] if oauth else [])
            elif auth.get("type") == "basic" and "grant_type=client_credentials" in body:
                form = parse_qs(body)
                found.append(
                    OAuthClient(
                        token_url=_reroute(str(step.config.get("url", "")), routes),
                        client_id=_text(auth, "username", scope),
                        secret=_text(auth, "password", scope) or None,
                        scopes=tuple(" ".join(form.get("scope", [])).split()),
                    )
                )
    return found


def _text(auth: Mapping[str, Any], key: str, scope: Mapping[str, Any]) -> str:
    return _render(auth.get(key, ""), scope)


def _render(template: Any, scope: Mapping[str, Any]) -> str:
    try:
        return substitute_text(str(template), scope)
    except ExpressionError as exc:
        raise ConfigError(f"authentication value {template!r} does not render: {exc}") from None


def _reroute(url: str, routes: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    base = routes.get(parts.hostname or "")
    return base.rstrip("/") + parts.path if base else url


def _auth_of(
    auth: Mapping[str, Any], scope: Mapping[str, Any], routes: Mapping[str, str]
) -> ProviderAuth:
    credential = credentials_of(auth, lambda template: _render(template, scope))
    if isinstance(credential, ClientCredentials):
        client = OAuthClient(
            token_url=_reroute(credential.token_endpoint, routes),
            client_id=credential.client_id,
            secret=credential.client_secret or None,
            scopes=credential.scopes,
        )
        return ProviderAuth(oauth=client)
    if isinstance(credential, ApiKey):
        return ProviderAuth(headers=credential.headers)
    if isinstance(credential, Basic):
        return ProviderAuth(basic=(credential.username, credential.password))
    return ProviderAuth()
