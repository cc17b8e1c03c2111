"""Outbound authentication: OAuth2 client credentials with a shared token cache, API key, basic.

The token cache is keyed by (token endpoint, client id, scopes) and shared by
every call of a run. A valid token is served from memory; one close to expiry
is refreshed in the background, off the caller path; only when no valid token
exists is it fetched inline, which the trace marks, because that is the
guide's trap: token latency inside the caller's dead air.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Token", "TokenCache", "TokenError", "TokenKey", "basic_header", "parse_token"]


@dataclass(frozen=True, slots=True)
class TokenKey:
    endpoint: str
    client_id: str
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    access_token: str
    expires_at: float  # on the run clock, seconds


class TokenError(Exception):
    """The token endpoint did not hand out a token."""

    def __init__(self, code: str, status: int = 0) -> None:
        self.code = code
        self.status = status
        super().__init__(f"token fetch failed: {code} (status {status})")


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


def parse_token(status: int, body: bytes, now: float) -> Token:
    """A token from a token endpoint's response, or :class:`TokenError`."""
    if status != 200:
        raise TokenError(f"token_endpoint_http_{status}", status)
    try:
        data = json.loads(body)
        access = str(data["access_token"])
        expires_in = float(data.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenError("token_response_malformed", status) from exc
    return Token(access_token=access, expires_at=now + expires_in)


def basic_header(user: str, password: str) -> str:
    raw = f"{user}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")
