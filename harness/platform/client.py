"""A client of the tenant's Flow API (``/api/v2/flow/flows``), OAuth2 client credentials.

The token comes from :class:`harness.platform.credentials.Tokens`; a 401
``invalid_token``/``token_expired`` drops it and the request is sent once more with a new
one. A 403 names the missing scope and is never retried. Reads retry as
:mod:`harness.platform.retry` says; a write whose answer was lost (a timeout, a reset, a
5xx) is never sent again blindly: the flow is read back first, and only when it is still
the version the write expected is the write repeated (with the same ``If-Match``, so a
late copy of the first one can no longer land). Every secret is given to the redactor
before any event can carry it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from harness.clock import Clock, RealClock
from harness.errors import ConfigError
from harness.events import Event, EventLog, Redactor
from harness.executor.deadline import DeadlineExceeded, within
from harness.flow.documents import canonical_text
from harness.inputs import parse_json
from harness.platform.credentials import ApiSettings, Tokens
from harness.platform.errors import (
    CredentialsRefused,
    DocumentRefused,
    FlowApiError,
    ScopeRefused,
    VersionConflict,
)
from harness.platform.retry import Attempts, Reply

__all__ = ["FLOWS_PATH", "Deployed", "FlowApi"]

FLOWS_PATH = "/api/v2/flow/flows"
_MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Deployed:
    """A flow as the tenant serves it: the document, its exact text and its ``ETag``."""

    flow_id: str
    document: Mapping[str, Any]
    text: str
    etag: str | None = None

    @property
    def version(self) -> int:
        value = self.document.get("version", 1)
        return value if isinstance(value, int) and not isinstance(value, bool) else 1


class FlowApi:
    """``async with FlowApi(settings) as api``: list, get, put and delete flows."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        clock: Clock | None = None,
        events: EventLog | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or RealClock()
        self.events = events if events is not None else EventLog()
        self.redactor: Redactor = self.events.redactor
        self.tokens = Tokens(
            settings,
            clock=self.clock,
            redactor=self.redactor,
            emit=self._emit,
            exchange=self._exchange,
        )
        self._base = settings.base_url.rstrip("/")
        self._started = self.clock.monotonic()
        self._http = httpx.AsyncClient(
            transport=transport, trust_env=False, timeout=None, follow_redirects=False
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.tokens.aclose()
        await self._http.aclose()

    # -- the API ------------------------------------------------------------------------

    async def require(self, scopes: tuple[str, ...]) -> None:
        """Fetch a token now and refuse (:class:`ScopeRefused`) when it lacks one of ``scopes``."""
        await self.tokens.authorization()
        granted = self.tokens.granted
        granted = granted if granted is not None else self.settings.scopes
        for scope in scopes:
            if scope not in granted:
                raise ScopeRefused(
                    scope,
                    f"the token for client '{self.settings.client_id}' lacks {scope} "
                    f"(granted: {' '.join(granted) or 'nothing'}); grant it to the client",
                )

    async def list_flows(self) -> list[str]:
        """The ids of every flow the tenant holds, sorted."""
        reply = await self._call("GET", FLOWS_PATH, what="GET flows")
        body = self._json(reply, "GET flows")
        flows = body.get("flows") if isinstance(body, dict) else None
        if not isinstance(flows, list):
            raise FlowApiError(f"GET {FLOWS_PATH}: no 'flows' list in the answer")
        return sorted(str(f["id"]) for f in flows if isinstance(f, dict) and "id" in f)

    async def get(self, flow_id: str) -> Deployed | None:
        """The deployed flow, or None when the tenant has no flow of that id."""
        what = f"GET {flow_id}"
        reply = await self._call("GET", self._path(flow_id), what=what)
        if reply.status == 404:
            return None
        return self._deployed(flow_id, reply, what)

    async def put(
        self, flow_id: str, document: Mapping[str, Any], *, expect: Deployed | None
    ) -> Deployed:
        """Write ``document`` over ``expect`` (None: the flow must not exist yet).

        A lost answer is read back: written (return it), untouched (write again), or
        changed by someone else (:class:`VersionConflict`).
        """
        reply, current = await self._write(
            "PUT",
            flow_id,
            expect,
            content=canonical_text(document).encode(),
            landed=lambda now: now is not None and now.document == document,
        )
        if reply is None and current is not None:
            return current  # the lost answer was a success
        if reply is None:
            raise FlowApiError(f"PUT {flow_id}: no answer")  # unreachable: landed means present
        return self._deployed(flow_id, reply, f"PUT {flow_id}")

    async def delete(self, flow_id: str, *, expect: Deployed) -> None:
        """Remove a flow the release created (its rollback); read back when the answer is lost."""
        await self._write("DELETE", flow_id, expect, landed=lambda now: now is None)

    async def _write(
        self,
        method: str,
        flow_id: str,
        expect: Deployed | None,
        *,
        landed: Callable[[Deployed | None], bool],
        content: bytes | None = None,
    ) -> tuple[Reply | None, Deployed | None]:
        """(the answer, None), or (None, what a read-back found) when a lost answer had
        ``landed``. Never sends the write again unless the flow still is ``expect``."""
        what = f"{method} {flow_id}"
        headers = _precondition(expect)
        if content is not None:
            headers["Content-Type"] = "application/json"
        attempts = Attempts(what, self.settings.policy, self.clock, self._emit)
        while True:
            reply = await self._call(
                method,
                self._path(flow_id),
                what=what,
                headers=headers,
                content=content,
                attempts=attempts,
                write=True,
            )
            if reply.status in (200, 201, 204) or (method == "DELETE" and reply.status == 404):
                return reply, None
            if reply.status == 409:
                raise await self._conflict(flow_id, reply)
            if reply.status == 400:
                raise DocumentRefused(flow_id, self._detail(reply))
            if not reply.retryable:
                raise FlowApiError(f"{what}: answered {reply.status} {self._detail(reply)}")
            current = await self.get(flow_id)
            self._emit("read_back", request=what, after=reply.reason, found=_state(current))
            if landed(current):
                return None, current
            if not _untouched(current, expect):
                raise VersionConflict(
                    flow_id, current, f"{flow_id} changed on the tenant while {what} was unanswered"
                )
            await attempts.pause(reply)

    # -- requests -----------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        attempts: Attempts | None = None,
        write: bool = False,
    ) -> Reply:
        """One request with a token; retried while it cannot have changed anything.

        For a ``write``, an answer that may hide an applied change (a timeout, a reset, a
        5xx) is returned to the caller, who reads back before trying again.
        """
        attempts = attempts or Attempts(what, self.settings.policy, self.clock, self._emit)
        renewed = False
        while True:
            authorization = await self.tokens.authorization()
            attempts.used += 1
            reply = await self._exchange(
                method,
                self._base + path,
                {**(headers or {}), "Authorization": authorization},
                content,
                what,
            )
            if reply.status == 401 and not renewed and reply.error_code in _STALE_TOKEN:
                # Expired or revoked mid-run: the request was refused, so sending it again
                # with a fresh token cannot apply it twice.
                self.tokens.drop()
                renewed = True
                attempts.used -= 1
                continue
            if reply.status == 401:
                raise CredentialsRefused(
                    f"{what}: the Flow API refused the token: {self._detail(reply)}"
                )
            if reply.status == 403:
                raise self._scope_refused(reply, what)
            if not reply.retryable or (write and reply.sent and reply.status != 429):
                return reply
            await attempts.pause(reply)

    async def _exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        what: str,
    ) -> Reply:
        started = self.clock.monotonic()
        try:
            reply = await within(
                self.clock,
                self.settings.policy.timeout_s,
                self._send(method, url, headers, content),
            )
        except DeadlineExceeded:
            limit = self.settings.policy.timeout_s
            reply = Reply(failure=f"timeout after {limit:g} s")
        except httpx.ConnectError as exc:
            reply = Reply(failure=f"connection refused ({_brief(exc)})", sent=False)
        except httpx.TransportError as exc:
            reply = Reply(failure=f"connection error ({_brief(exc)})")
        self._emit(
            "flowapi_request",
            request=what,
            method=method,
            url=url,
            status=reply.status,
            failure=reply.failure,
            elapsed_ms=round((self.clock.monotonic() - started) * 1000, 3),
        )
        return reply

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes | None
    ) -> Reply:
        request = self._http.build_request(method, url, headers=headers, content=content)
        response = await self._http.send(request, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > _MAX_BODY:
                    return Reply(failure=f"answer over {_MAX_BODY // (1024 * 1024)} MB")
            headers_out = {k.lower(): v for k, v in response.headers.items()}
            return Reply(status=response.status_code, headers=headers_out, body=bytes(body))
        finally:
            await response.aclose()

    # -- answers ------------------------------------------------------------------------

    def _path(self, flow_id: str) -> str:
        return f"{FLOWS_PATH}/{quote(flow_id, safe='')}"

    def _json(self, reply: Reply, what: str) -> Any:
        if reply.status not in (200, 201):
            raise FlowApiError(f"{what}: answered {reply.reason} {self._detail(reply)}".strip())
        try:
            text = reply.body.decode("utf-8")
        except UnicodeDecodeError:
            raise FlowApiError(f"{what}: the answer is not UTF-8") from None
        try:
            return parse_json(text, file=f"Flow API {what}")
        except ConfigError as exc:
            raise FlowApiError(str(exc)) from None

    def _deployed(self, flow_id: str, reply: Reply, what: str) -> Deployed:
        document = self._json(reply, what)
        if not isinstance(document, dict) or document.get("id") != flow_id:
            raise FlowApiError(f"{what}: the answer is not the flow document of '{flow_id}'")
        return Deployed(
            flow_id=flow_id,
            document=document,
            text=reply.body.decode("utf-8"),
            etag=reply.headers.get("etag"),
        )

    async def _conflict(self, flow_id: str, reply: Reply) -> VersionConflict:
        current = await self.get(flow_id)
        return VersionConflict(flow_id, current, self._detail(reply))

    def _scope_refused(self, reply: Reply, what: str) -> ScopeRefused:
        scope = str(reply.fields().get("scope") or _challenge_scope(reply) or "?")
        return ScopeRefused(scope, f"{what}: 403 {self._detail(reply)}")

    def _detail(self, reply: Reply) -> str:
        return reply.detail(self.redactor)

    def _emit(self, kind: str, **data: Any) -> None:
        now = self.clock.monotonic()
        self.events.emit(
            Event(
                kind=kind,
                t_ms=round((now - self._started) * 1000, 3),
                wall_ms=self.clock.wall_ms(),
                data=data,
            )
        )


_STALE_TOKEN = frozenset({"invalid_token", "token_expired"})


def _challenge_scope(reply: Reply) -> str:
    challenge = reply.headers.get("www-authenticate", "")
    marker = 'scope="'
    start = challenge.find(marker)
    return challenge[start + len(marker) :].split('"', 1)[0] if start >= 0 else ""


def _precondition(expect: Deployed | None) -> dict[str, str]:
    if expect is None:
        return {"If-None-Match": "*"}
    return {"If-Match": expect.etag} if expect.etag else {}


def _untouched(current: Deployed | None, expect: Deployed | None) -> bool:
    """The tenant still holds what a write expected (so the write did not land)."""
    if expect is None or current is None:
        return current is None and expect is None
    if current.etag and expect.etag:
        return current.etag == expect.etag
    return current.document == expect.document


def _state(current: Deployed | None) -> str:
    return "absent" if current is None else f"version {current.version} etag {current.etag}"


def _brief(exc: Exception) -> str:
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")
