"""Who the harness is to the Flow API: settings, and the OAuth2 token it sends.

The token comes from the token endpoint (client credentials, the guide's scopes, the id
and secret form-encoded into HTTP Basic as RFC 6749 2.3.1 says) and is cached in a
:class:`harness.executor.auth.TokenCache` until shortly before it expires, so no request
leaves with a token about to lapse. A 5xx, 429 or lost answer from the token endpoint is
retried like any other request; a refused client id or secret is exit 2, a scope the
client does not hold is exit 1 naming it. The secret, its Basic forms and every token
go to the redactor before any event could carry them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from harness.clock import Clock
from harness.errors import ConfigError, UnsafeTargetError
from harness.events import Redactor
from harness.executor.auth import TokenCache
from harness.flow.credentials import Token, TokenError, TokenKey, basic_header, parse_token
from harness.loopback import is_loopback
from harness.platform.errors import CredentialsRefused, FlowApiError, ScopeRefused
from harness.platform.retry import Attempts, Reply, RetryPolicy

__all__ = ["FLOW_SCOPES", "ApiSettings", "Tokens"]

# The guide's scopes for Flow API access.
FLOW_SCOPES = ("flow:edit", "integration:manage", "api:read")
# Renew at this share of a token's lifetime.
_RENEW_AT = 0.9

Exchange = Callable[[str, str, Mapping[str, str], "bytes | None", str], Awaitable[Reply]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    """Where the Flow API is and who the harness is to it (loopback unless allowed)."""

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    token_url: str = ""  # default: {base_url}/auth/token
    scopes: tuple[str, ...] = FLOW_SCOPES
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    allow_non_loopback: bool = False

    def __post_init__(self) -> None:
        for url in (self.base_url, self.token_endpoint):
            _check_target(url, self.allow_non_loopback)

    @property
    def token_endpoint(self) -> str:
        return self.token_url or self.base_url.rstrip("/") + "/auth/token"


class Tokens:
    """The client's bearer token: fetched when needed, dropped when the API rejects it."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        clock: Clock,
        redactor: Redactor,
        emit: Callable[..., Any],
        exchange: Exchange,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.redactor = redactor
        self.emit = emit
        self.exchange = exchange
        self.granted: tuple[str, ...] | None = None  # the scopes the last token carries
        self._key = TokenKey(settings.token_endpoint, settings.client_id, settings.scopes)
        self._cache = TokenCache(clock.monotonic, refresh_ahead_s=0.0)
        redactor.add(settings.client_secret)
        redactor.add_basic(settings.client_id, settings.client_secret)
        redactor.add_basic(quote(settings.client_id), quote(settings.client_secret))

    async def authorization(self) -> str:
        """The ``Authorization`` header value."""
        token, _ = await self._cache.get(self._key, self._fetch)
        return f"Bearer {token.access_token}"

    def drop(self) -> None:
        """Forget the token (the API said it expired or was revoked)."""
        self._cache.invalidate(self._key)

    async def aclose(self) -> None:
        await self._cache.aclose()

    async def _fetch(self) -> Token:
        settings = self.settings
        endpoint, what = settings.token_endpoint, "token request"
        form = urlencode({"grant_type": "client_credentials", "scope": " ".join(settings.scopes)})
        headers = {
            "Authorization": basic_header(quote(settings.client_id), quote(settings.client_secret)),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        attempts = Attempts(what, settings.policy, self.clock, self.emit)
        while True:
            attempts.used += 1
            reply = await self.exchange("POST", endpoint, headers, form.encode(), what)
            if reply.status == 200:
                return self._token_of(reply)
            code = reply.error_code
            if reply.status == 401 or code == "invalid_client":
                raise CredentialsRefused(
                    f"the token endpoint {endpoint} refused client '{settings.client_id}' "
                    f"({code or reply.status}): check the client id and its secret"
                )
            if code == "invalid_scope":
                raise ScopeRefused(" ".join(settings.scopes), reply.detail(self.redactor))
            if not reply.retryable:
                detail = reply.detail(self.redactor)
                raise FlowApiError(f"token endpoint {endpoint}: {reply.reason} {detail}")
            await attempts.pause(reply)

    def _token_of(self, reply: Reply) -> Token:
        now = self.clock.monotonic()
        try:
            token = parse_token(200, reply.body, now)
        except TokenError as exc:
            raise FlowApiError(f"token endpoint {self.settings.token_endpoint}: {exc}") from None
        self.redactor.add(token.access_token)
        scope = reply.fields().get("scope")
        self.granted = tuple(scope.split()) if isinstance(scope, str) else None
        self.emit("token_fetch", endpoint=self.settings.token_endpoint, scopes=self.granted)
        lifetime = token.expires_at - now
        return Token(access_token=token.access_token, expires_at=now + lifetime * _RENEW_AT)


def _check_target(url: str, allow_non_loopback: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"'{url}' is not an http(s) URL", file="--api-url")
    if not allow_non_loopback and not is_loopback(parts.hostname):
        raise UnsafeTargetError(
            f"refusing to talk to {parts.hostname}: not loopback; pass --allow-non-loopback "
            "to reach a real tenant"
        )
