"""Active faults and the request log of one backend, plus their HTTP control API.

The same objects serve two doors: Python (``b.faults("crm").add({...})``) and
HTTP (``POST /__faults``), so a scenario can drive a backend in-process or a
user can drive it with curl.
"""

from __future__ import annotations

import fnmatch
import json
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from harness.errors import ConfigError
from harness.events import looks_secret

from .faultspec import KINDS, FaultSpec, parse_fault

__all__ = ["ActiveFault", "FaultSet", "RecordedRequest", "RequestLog", "Trace", "control_routes"]

# Headers whose values a journal keeps; every other value may be a credential (an API key
# sent as `X-Clinic-Key`), so only its name is kept and `GET /__requests` never shows it.
_SHOWN_HEADERS = frozenset(
    {
        "accept", "content-type", "content-length", "idempotency-key", "x-idempotency-key",
        "x-correlation-id", "x-request-id", "user-agent", "host", "accept-encoding",
    }
)  # fmt: skip
_SECRET_PARAMS = frozenset({"key", "sig", "signature", "auth", "code", "jwt", "session"})
_TRACE = "x-ivr-harness-trace"


def _secret_param(name: str) -> bool:
    return name.lower() in _SECRET_PARAMS or looks_secret(name)


@dataclass(slots=True)
class ActiveFault:
    """A fault in force, with its counters (mutable: it counts the requests it sees)."""

    id: int
    spec: FaultSpec
    matched: int = 0
    hits: int = 0

    def to_json(self) -> dict[str, Any]:
        """The shape listed by ``GET /__faults``."""
        remaining = None if self.spec.times is None else self.spec.times - self.hits
        return {
            "id": self.id,
            "spec": dict(self.spec.source),
            "matched": self.matched,
            "hits": self.hits,
            "remaining": remaining,
        }


class FaultSet:
    """The faults in force on one backend.

    Faults are tried in the order they were added; a fault with ``times`` leaves
    the set once it has fired that many times. ``fraction`` draws from a seeded
    RNG so a run is reproducible.
    """

    def __init__(self, backend: str, *, allowed_kinds: frozenset[str], seed: int = 0) -> None:
        self.backend = backend
        self.allowed_kinds = allowed_kinds
        self._seed = seed
        self._rng = random.Random(seed)
        self._faults: list[ActiveFault] = []
        self._next_id = 1
        self.requests = 0
        self.fired: Counter[str] = Counter()

    def add(self, spec: Mapping[str, Any]) -> ActiveFault:
        """Validate ``spec`` and put it in force. Raises :class:`ConfigError` on a bad spec."""
        fault = ActiveFault(self._next_id, parse_fault(spec, allowed_kinds=self.allowed_kinds))
        self._next_id += 1
        self._faults.append(fault)
        return fault

    def remove(self, fault: ActiveFault) -> None:
        """Take one fault out of force (a no-op when it already left)."""
        self._faults = [f for f in self._faults if f.id != fault.id]

    def clear(self) -> None:
        """Remove every fault and reset the counters and the RNG."""
        self._faults.clear()
        self._rng = random.Random(self._seed)
        self.requests = 0
        self.fired.clear()

    @property
    def active(self) -> list[ActiveFault]:
        """A snapshot of the faults in force."""
        return list(self._faults)

    def take(
        self, kinds: frozenset[str], method: str, path: str, trace: Trace | None = None
    ) -> FaultSpec | None:
        """The first fault of ``kinds`` that matches and fires for this request, if any."""
        for fault in self._faults:
            spec = fault.spec
            if spec.kind not in kinds or not _matches(spec, method, path, trace):
                continue
            fault.matched += 1
            if spec.fraction is not None and self._rng.random() >= spec.fraction:
                continue
            fault.hits += 1
            self.fired[spec.kind] += 1
            if spec.times is not None and fault.hits >= spec.times:
                self._faults.remove(fault)
            return spec
        return None

    def rotated_scopes(self) -> tuple[str, ...] | None:
        """The scopes a `rotate_scopes` fault now requires, or None when not rotated."""
        for fault in reversed(self._faults):
            if fault.spec.kind == "rotate_scopes":
                return fault.spec.scopes
        return None

    def to_json(self) -> dict[str, Any]:
        """The body of ``GET /__faults``."""
        return {
            "backend": self.backend,
            "faults": [fault.to_json() for fault in self._faults],
            "counters": {"requests": self.requests, "fired": dict(self.fired)},
            "kinds": [kind for kind in KINDS if kind in self.allowed_kinds],
        }


def _matches(spec: FaultSpec, method: str, path: str, trace: Trace | None) -> bool:
    if spec.method is not None and spec.method != method:
        return False
    if spec.step is not None and (trace is None or not trace.is_step(spec.step)):
        return False
    return spec.route is None or fnmatch.fnmatchcase(path, spec.route)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trace:
    """Which call, step and attempt sent a request (the executor's TRACE_HEADER)."""

    call_id: str = ""
    step: str = ""  # FLOW/STEP
    attempt: int = 0  # 0: a token fetch on the step's behalf

    @classmethod
    def parse(cls, raw: str) -> Trace:
        fields = dict(p.partition("=")[::2] for p in raw.split(";") if "=" in p)
        attempt = fields.get("attempt", "0")
        return cls(
            call_id=fields.get("call", "")[:200],
            step=fields.get("step", "")[:400],
            attempt=int(attempt) if attempt.isdigit() and len(attempt) < 6 else 0,
        )

    @classmethod
    def of(cls, headers: Any) -> Trace | None:
        """The trace of a request from its headers (Starlette's or ASGI's), if it has one."""
        if isinstance(headers, list):
            raw = next((v for k, v in headers if k.lower() == _TRACE.encode()), None)
            return cls.parse(raw.decode("latin-1")) if raw is not None else None
        value = headers.get(_TRACE)
        return cls.parse(value) if value is not None else None

    def is_step(self, step: str) -> bool:
        """Whether this request came from `step` (FLOW/STEP, or a bare step id)."""
        return bool(step) and (self.step == step or self.step.rpartition("/")[2] == step)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedRequest:
    """One request a backend received: the journal a run's checks read. Header values are
    kept only for headers that are never secret (`_SHOWN_HEADERS`); query values whose
    names look secret are redacted; the body is kept as its SHA-256."""

    backend: str
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    status: int
    faults: tuple[str, ...]
    at_ms: int
    call_id: str = ""
    step: str = ""
    attempt: int = 0
    body_sha256: str = ""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    @property
    def idempotency_key(self) -> str | None:
        return self.header("idempotency-key")


class RequestLog:
    """Every non-control request a backend answered, in order.

    With `keeping` off the backends' middleware builds and appends no record: a load
    shard's checks never read the journal, and it would grow by a record per request
    for as long as the load runs.
    """

    def __init__(self) -> None:
        self._entries: list[RecordedRequest] = []
        self.keeping = True

    def append(self, entry: RecordedRequest) -> None:
        self._entries.append(entry)

    def clear(self) -> None:
        self._entries.clear()

    def entries(self) -> list[RecordedRequest]:
        """A snapshot of the log."""
        return list(self._entries)

    @staticmethod
    def redact(raw: list[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
        """ASGI headers as text: every name, the value only where it is never a secret."""
        out = []
        for key, value in raw:
            name = key.decode("latin-1").lower()
            if name == _TRACE:
                continue
            shown = name in _SHOWN_HEADERS or not value.strip()  # an empty value hides nothing
            text = value.decode("latin-1") if shown else "[redacted]"
            out.append((name, text))
        return tuple(out)

    @staticmethod
    def redact_query(raw: bytes) -> str:
        """The query string as text, the value of every secret-looking parameter
        (``?key=...``, ``api_key``, ``access_token``, ``sig``...) replaced, the rest as sent."""
        text = raw.decode("latin-1")
        if not text:
            return ""
        parts = []
        for pair in text.split("&"):
            name, sep, value = pair.partition("=")
            shown = "[redacted]" if sep and value and _secret_param(unquote_plus(name)) else value
            parts.append(f"{name}{sep}{shown}")
        return "&".join(parts)


def control_routes(faults: FaultSet, log: RequestLog) -> list[BaseRoute]:
    """``/__faults`` (GET, POST, DELETE) and ``/__requests`` (GET, DELETE)."""

    async def list_faults(request: Request) -> Response:
        return JSONResponse(faults.to_json())

    async def add_fault(request: Request) -> Response:
        try:
            spec = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as exc:
            return _invalid(ConfigError(f"body is not JSON: {exc}", pointer=""))
        try:
            fault = faults.add(spec)
        except ConfigError as exc:
            return _invalid(exc)
        return JSONResponse(fault.to_json(), status_code=201)

    async def clear_faults(request: Request) -> Response:
        faults.clear()
        return Response(status_code=204)

    async def list_requests(request: Request) -> Response:
        return JSONResponse({"requests": [asdict(entry) for entry in log.entries()]})

    async def clear_requests(request: Request) -> Response:
        log.clear()
        return Response(status_code=204)

    return [
        Route("/__faults", list_faults, methods=["GET"]),
        Route("/__faults", add_fault, methods=["POST"]),
        Route("/__faults", clear_faults, methods=["DELETE"]),
        Route("/__requests", list_requests, methods=["GET"]),
        Route("/__requests", clear_requests, methods=["DELETE"]),
    ]


def _invalid(exc: ConfigError) -> Response:
    body = {"error": "invalid_fault", "pointer": exc.pointer, "message": str(exc)}
    return JSONResponse(body, status_code=400)
