"""What the Flow API stand-in holds: flows by id with versions, clients, and the tokens it issued.

Every write bumps the flow's *revision*, which the API shows as its ``ETag``; the
document's ``version`` is the number the client sets. A write with ``If-Match`` must
name the current revision, one without must carry the next version number: either way a
client that read an older state gets 409 ``version_conflict`` and overwrites nothing.
Revisions survive a delete, so a write still on its way with an old ``If-Match`` can
never match again once anything was written (the release's rollback relies on that).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.clock import Clock
from harness.errors import ConfigError
from harness.flow.documents import canonical_text
from harness.flow.loader import parse_flow

__all__ = [
    "FLOW_SCOPES",
    "ApiProblem",
    "FlowStore",
    "StoredFlow",
    "required_scopes",
]

# The guide's scopes for Flow API access.
FLOW_SCOPES = ("flow:edit", "integration:manage", "api:read")


class ApiProblem(Exception):
    """An answer in the platform's error shape: ``{"error", "error_description", ...}``."""

    def __init__(self, status: int, code: str, description: str, **extra: Any) -> None:
        self.status = status
        self.code = code
        self.description = description
        self.extra = extra
        super().__init__(f"{status} {code}: {description}")

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.description, **self.extra}


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredFlow:
    """One deployed flow: its document, the exact text GET serves, and its revision."""

    document: Mapping[str, Any]
    text: str
    revision: int

    @property
    def etag(self) -> str:
        return f'"{self.revision}"'

    @property
    def version(self) -> int:
        value = self.document.get("version", 1)
        return value if isinstance(value, int) else 1


@dataclass(frozen=True, slots=True)
class _Token:
    client_id: str
    scopes: frozenset[str]
    expires_at: float


def required_scopes(method: str, document: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """Reads need ``api:read``; writes ``flow:edit``, and a flow with HTTP Request steps (an
    integration) also ``integration:manage``."""
    if method in ("GET", "HEAD"):
        return ("api:read",)
    steps = document.get("steps") if document is not None else None
    calls_out = any(isinstance(s, Mapping) and s.get("type") == "HTTPRequest" for s in steps or ())
    return ("flow:edit", "integration:manage") if calls_out else ("flow:edit",)


class FlowStore:
    """Flows, revisions, client credentials and issued tokens of one stand-in."""

    def __init__(
        self,
        *,
        clients: Mapping[str, str],
        grants: Mapping[str, Sequence[str]] | None = None,
        token_ttl_s: float = 3600,
        clock: Clock,
    ) -> None:
        self.clients = dict(clients)
        self.grants = {c: frozenset((grants or {}).get(c, FLOW_SCOPES)) for c in self.clients}
        self.token_ttl_s = token_ttl_s
        self.clock = clock
        self.flows: dict[str, StoredFlow] = {}
        self._revisions: dict[str, int] = {}
        self._tokens: dict[str, _Token] = {}

    # -- tokens ------------------------------------------------------------------------

    def issue(self, client_id: str, secret: str, requested: Sequence[str] | None) -> dict[str, Any]:
        """A token response for valid client credentials: the requested scopes the client
        is granted (RFC 6749 3.3 lets a server issue fewer; ``scope`` says which)."""
        expected = self.clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected.encode(), secret.encode()):
            raise ApiProblem(401, "invalid_client", "client authentication failed")
        wanted = list(requested) if requested else sorted(self.grants[client_id])
        granted = [s for s in wanted if s in self.grants[client_id]]
        if not granted:
            raise ApiProblem(
                400, "invalid_scope", f"client {client_id} holds none of: {' '.join(wanted)}"
            )
        token = secrets.token_urlsafe(32)
        expires = self.clock.monotonic() + self.token_ttl_s
        self._tokens[token] = _Token(client_id, frozenset(granted), expires)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl_s,
            "scope": " ".join(granted),
        }

    @property
    def issued_tokens(self) -> list[str]:
        """Every token handed out so far (tests look for them in outputs)."""
        return list(self._tokens)

    def expire_tokens(self) -> None:
        """Make every issued token expired, as if its lifetime ran out now."""
        now = self.clock.monotonic()
        self._tokens = {k: _Token(t.client_id, t.scopes, now) for k, t in self._tokens.items()}

    def authorize(self, header: str, needed: Iterable[str]) -> None:
        """Raise 401 for a missing, unknown or expired token, 403 naming a missing scope."""
        scheme, _, value = header.partition(" ")
        token = self._tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise ApiProblem(401, "invalid_token", "no valid bearer token")
        if token.expires_at <= self.clock.monotonic():
            raise ApiProblem(401, "token_expired", "the access token has expired")
        for scope in needed:
            if scope not in token.scopes:
                raise ApiProblem(
                    403, "insufficient_scope", f"this call needs scope {scope}", scope=scope
                )

    # -- flows -------------------------------------------------------------------------

    def seed(self, documents: Iterable[Mapping[str, Any]]) -> None:
        """Deploy documents as they are (a tenant's starting state)."""
        for document in documents:
            self._store(str(document["id"]), document)

    def check(self, flow_id: str, document: Any) -> Mapping[str, Any]:
        """A valid flow document for ``flow_id``, or 400 ``invalid_flow`` with a pointer."""
        try:
            parse_flow(document)
        except ConfigError as exc:
            raise ApiProblem(400, "invalid_flow", exc.detail, pointer=exc.pointer) from None
        if document["id"] != flow_id:
            raise ApiProblem(
                400, "invalid_flow", f"id '{document['id']}' is not '{flow_id}'", pointer="/id"
            )
        if not isinstance(document.get("version"), int) or document["version"] < 1:
            raise ApiProblem(
                400, "invalid_flow", "version (1 or more) is required", pointer="/version"
            )
        return dict(document)

    def put(
        self,
        flow_id: str,
        document: Mapping[str, Any],
        *,
        if_match: str | None,
        if_none_match: str | None,
    ) -> tuple[StoredFlow, bool]:
        """Store a checked document; (the stored flow, created). 409 on a stale precondition."""
        current = self.flows.get(flow_id)
        if if_none_match is not None and current is not None:
            raise self._conflict(flow_id, current, "the flow already exists")
        if if_match is not None and (current is None or if_match != current.etag):
            raise self._conflict(flow_id, current, f"If-Match {if_match} is not the current ETag")
        if if_match is None and current is not None and document["version"] != current.version + 1:
            raise self._conflict(
                flow_id, current, f"version {document['version']} is not {current.version + 1}"
            )
        return self._store(flow_id, document), current is None

    def delete(self, flow_id: str, *, if_match: str | None) -> None:
        current = self.flows.get(flow_id)
        if current is None:
            raise ApiProblem(404, "not_found", f"no flow '{flow_id}'")
        if if_match is not None and if_match != current.etag:
            raise self._conflict(flow_id, current, f"If-Match {if_match} is not the current ETag")
        del self.flows[flow_id]
        self._revisions[flow_id] += 1

    def _store(self, flow_id: str, document: Mapping[str, Any]) -> StoredFlow:
        revision = self._revisions.get(flow_id, 0) + 1
        self._revisions[flow_id] = revision
        stored = StoredFlow(
            document=dict(document), text=canonical_text(document), revision=revision
        )
        self.flows[flow_id] = stored
        return stored

    @staticmethod
    def _conflict(flow_id: str, current: StoredFlow | None, why: str) -> ApiProblem:
        extra = {} if current is None else {"current_version": current.version}
        return ApiProblem(409, "version_conflict", f"flow '{flow_id}': {why}", **extra)
