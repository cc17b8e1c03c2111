"""Outbound authentication: OAuth2 client credentials with a shared token cache, API key, basic.

The token cache is keyed by (token endpoint, client id, scopes) and shared by
every call of a run. A valid token is served from memory; one close to expiry
is refreshed in the background, off the caller path; only when no valid token
exists is it fetched inline, which the trace marks, because that is the
guide's trap: token latency inside the caller's dead air.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote_plus

from harness.clock import Clock
from harness.events import Redactor
from harness.executor.deadline import DeadlineExceeded
from harness.executor.wire import WireError, WireResponse
from harness.flow.credentials import (
    ApiKey,
    Basic,
    ClientCredentials,
    Token,
    TokenError,
    TokenKey,
    credentials_of,
    parse_token,
)
from harness.flow.expr import render, to_text

__all__ = ["Authorizer", "Credentials", "TokenCache"]


Fetch = Callable[[], Awaitable[Token]]


class TokenCache:
    """Shared token cache with single-flight fetches and refresh-ahead."""

    def __init__(self, now: Callable[[], float], refresh_ahead_s: float) -> None:
        self._now = now
        self._ahead = refresh_ahead_s
        self._tokens: dict[TokenKey, Token] = {}
        self._inflight: dict[TokenKey, asyncio.Task[Token]] = {}
        self.on_background_failure: Callable[[TokenKey, BaseException], None] | None = None

    def peek(self, key: TokenKey) -> Token | None:
        token = self._tokens.get(key)
        return token if token is not None and token.expires_at > self._now() else None

    async def get(self, key: TokenKey, fetch: Fetch) -> tuple[Token, bool]:
        """(token, fetched_inline). Raises :class:`TokenError` when an inline fetch fails."""
        token = self.peek(key)
        if token is not None:
            if token.expires_at - self._now() <= self._ahead and key not in self._inflight:
                self._start(key, fetch, background=True)
            return token, False
        task = self._inflight.get(key) or self._start(key, fetch, background=False)
        return await asyncio.shield(task), True

    def invalidate(self, key: TokenKey, token: Token | None = None) -> None:
        """Forget a token the resource server rejected (only that one, if given)."""
        if token is None or self._tokens.get(key) == token:
            self._tokens.pop(key, None)

    def _start(self, key: TokenKey, fetch: Fetch, *, background: bool) -> asyncio.Task[Token]:
        task = asyncio.ensure_future(self._fetch(key, fetch))
        self._inflight[key] = task
        if background:
            task.add_done_callback(self._report_background)
        else:
            # Its callers await it through a shield; when all of them were cancelled (a
            # stop signal) its failure has no reader, and asyncio would print it, with a
            # traceback, as "Task exception was never retrieved".
            task.add_done_callback(_retrieved)
        return task

    async def _fetch(self, key: TokenKey, fetch: Fetch) -> Token:
        try:
            token = await fetch()
            self._tokens[key] = token
            return token
        finally:
            self._inflight.pop(key, None)

    def _report_background(self, task: asyncio.Task[Token]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and self.on_background_failure is not None:
            with contextlib.suppress(Exception):
                self.on_background_failure(TokenKey("", "", ()), exc)

    async def aclose(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        for task in list(self._inflight.values()):
            with contextlib.suppress(BaseException):
                await task


def _retrieved(task: asyncio.Task[Token]) -> None:
    if not task.cancelled():
        task.exception()


class Send(Protocol):
    """One exchange under the step's deadline: method, URL, headers, body."""

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes | None
    ) -> Awaitable[WireResponse]: ...


class Emit(Protocol):
    def __call__(self, kind: str, *, call_id: str = "", step_id: str = "", **data: Any) -> Any: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """The headers one attempt sends, and for OAuth the token they carry."""

    headers: Mapping[str, str] = field(default_factory=dict)
    token_key: TokenKey | None = None
    token: Token | None = None
    inline_fetch: bool = False  # the caller waited on the token endpoint


class Authorizer:
    """Turns a step's `authentication` block into request headers.

    API key and basic credentials are rendered from the call's variables; OAuth2
    client credentials come from the shared :class:`TokenCache`. Every secret is
    given to the redactor before it can reach an event.
    """

    def __init__(self, *, tokens: TokenCache, redactor: Redactor, clock: Clock, emit: Emit):
        self.tokens = tokens
        self.redactor = redactor
        self.clock = clock
        self.emit = emit

    async def authorize(
        self,
        auth: Mapping[str, Any] | None,
        variables: Mapping[str, Any],
        *,
        send: Send,
        call_id: str,
        step_id: str,
    ) -> Credentials:
        """Credentials for one attempt; :class:`TokenError` when no token can be had."""
        credential = credentials_of(auth, lambda template: self._text(template, variables))
        if isinstance(credential, ApiKey):
            self.redactor.add(credential.value)
            return Credentials(headers=credential.headers)
        if isinstance(credential, Basic):
            headers = credential.headers
            self.redactor.add_basic(credential.username, credential.password)
            self.redactor.add(headers["Authorization"])
            return Credentials(headers=headers)
        if isinstance(credential, ClientCredentials):
            return await self._oauth(credential, send, call_id, step_id)
        return Credentials()

    def _text(self, template: Any, variables: Mapping[str, Any]) -> str:
        return to_text(render(template, variables, now_ms=self.clock.wall_ms))

    async def _oauth(
        self, client: ClientCredentials, send: Send, call_id: str, step_id: str
    ) -> Credentials:
        self.redactor.add(client.client_secret)
        key = client.key
        # The caller waits on the token endpoint whenever no valid token is cached,
        # whether that fetch then succeeds or not.
        inline = self.tokens.peek(key) is None

        def fetch() -> Awaitable[Token]:
            return self._fetch(client, send, call_id, step_id)

        token, _ = await self.tokens.get(key, fetch)
        return Credentials(
            headers={"Authorization": f"Bearer {token.access_token}"},
            token_key=key,
            token=token,
            inline_fetch=inline,
        )

    async def _fetch(
        self, client: ClientCredentials, send: Send, call_id: str, step_id: str
    ) -> Token:
        started = self.clock.monotonic()
        key = client.key
        inline = self.tokens.peek(key) is None
        headers, form = client.token_request()
        # RFC 6749 2.3.1: the secret travels form-urlencoded inside the Basic credentials.
        self.redactor.add(client.client_secret)
        self.redactor.add_basic(quote_plus(client.client_id), quote_plus(client.client_secret))
        status, code = 0, ""
        try:
            response = await send("POST", key.endpoint, headers, form)
            status = response.status
            token = parse_token(response.status, response.body, self.clock.monotonic())
            self.redactor.add(token.access_token)
            return token
        except DeadlineExceeded as exc:
            code = "token_endpoint_timeout"
            raise TokenError(code) from exc
        except WireError as exc:
            code = f"token_endpoint_{exc.code}"
            raise TokenError(code) from exc
        except TokenError as exc:
            code = exc.code
            raise
        finally:
            self.emit(
                "token_fetch",
                call_id=call_id,
                step_id=step_id,
                inline=inline,
                endpoint=key.endpoint,
                status=status,
                error=code,
                elapsed_ms=round((self.clock.monotonic() - started) * 1000, 3),
            )
