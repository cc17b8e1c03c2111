"""The fault model of the reference backends: one validated, immutable :class:`FaultSpec`.

A spec arrives as JSON (``POST /__faults``) or as a Python mapping
(``b.faults("crm").add({...})``). :func:`parse_fault` checks it field by field
and raises :class:`~harness.errors.ConfigError` naming the JSON pointer of the
first bad field, so the control API can answer 400 instead of 500.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ConfigError, did_you_mean

__all__ = ["KINDS", "FaultSpec", "parse_fault"]

# Keys every per-request fault accepts: how often it fires and which requests it hits.
_COMMON = frozenset({"kind", "times", "fraction", "route", "method", "step"})
# Kind-specific keys; `rotate_scopes` changes state instead of hitting requests.
_KIND_KEYS: dict[str, frozenset[str]] = {
    "status": frozenset({"status", "headers", "body"}),
    "empty": frozenset(),
    "accepted": frozenset({"callbackUrl", "callbackAfterMs", "correlationHeader"}),
    "rotate_scopes": frozenset({"scopes"}),
    "token_expired": frozenset(),
    "not_found": frozenset({"body"}),
    "rate_limit": frozenset({"retry_after", "body"}),
    "malformed": frozenset(),
    "oversized": frozenset({"bytes"}),
    "rename_field": frozenset({"from", "to"}),
    "delay": frozenset({"ms"}),
    "dribble": frozenset({"bytes_per_chunk", "interval_ms"}),
}
KINDS: tuple[str, ...] = tuple(_KIND_KEYS)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# RFC 6749 section 3.3 scope-token characters.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSpec:
    """One fault, validated. Fields not used by ``kind`` keep their defaults."""

    kind: str
    times: int | None = None
    fraction: float | None = None
    route: str | None = None
    method: str | None = None
    step: str | None = None  # FLOW/STEP or a step id: only requests that step sends
    status: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None
    scopes: tuple[str, ...] = ()
    retry_after: int = 1
    bytes: int = 64 * 1024
    rename_from: str = ""
    rename_to: str = ""
    ms: int = 0
    bytes_per_chunk: int = 1
    interval_ms: int = 100
    callback_url: str | None = None
    callback_after_ms: int | None = None
    # The callback's correlationId: this request header's value (else the job id).
    correlation_header: str | None = None
    # The spec as the user wrote it, echoed back by `GET /__faults`.
    source: Mapping[str, Any] = field(default_factory=dict, compare=False)


def parse_fault(spec: object, *, allowed_kinds: frozenset[str] | None = None) -> FaultSpec:
    """Validate a JSON-like fault spec and return it as a :class:`FaultSpec`.

    ``allowed_kinds`` restricts the kinds one backend understands (``empty`` only
    means something to the CRM, ``accepted`` only to the ticket service).
    Raises :class:`ConfigError` whose ``pointer`` names the offending field.
    """
    if not isinstance(spec, Mapping):
        raise ConfigError("a fault spec must be a JSON object", pointer="")
    kind = spec.get("kind")
    if not isinstance(kind, str):
        raise ConfigError(
            "'kind' is required and must be a string", pointer="/kind", hint=_kinds_hint()
        )
    if kind not in _KIND_KEYS:
        hint = did_you_mean(kind, KINDS) or _kinds_hint()
        raise ConfigError(f"unknown fault kind {kind!r}", pointer="/kind", hint=hint)
    if allowed_kinds is not None and kind not in allowed_kinds:
        raise ConfigError(
            f"this backend does not support fault kind {kind!r}",
            pointer="/kind",
            hint="supported here: " + ", ".join(k for k in KINDS if k in allowed_kinds),
        )
    allowed = _KIND_KEYS[kind] | ({"kind"} if kind == "rotate_scopes" else _COMMON)
    for key in spec:
        if key not in allowed:
            raise ConfigError(
                f"unexpected key {key!r} for kind {kind!r}",
                pointer=f"/{_escape(str(key))}",
                hint=did_you_mean(str(key), allowed) or "allowed: " + ", ".join(sorted(allowed)),
            )
    values: dict[str, Any] = {"kind": kind, "source": dict(spec)}
    values.update(_common(spec))
    values.update(_PARSERS[kind](spec))
    return FaultSpec(**values)


def _kinds_hint() -> str:
    return "one of: " + ", ".join(KINDS)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _int(spec: Mapping[str, Any], key: str, lo: int, hi: int, default: int | None) -> int | None:
    value = spec.get(key, default)
    if value is None and default is None and key not in spec:
        return None
    # bool is an int in Python but never a sensible count.
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(
            f"'{key}' must be an integer between {lo} and {hi}, got {value!r}", pointer=f"/{key}"
        )
    return value


def _req_int(spec: Mapping[str, Any], key: str, lo: int, hi: int, default: int | None) -> int:
    if default is None and key not in spec:
        raise ConfigError(f"'{key}' is required", pointer=f"/{key}")
    value = _int(spec, key, lo, hi, default)
    return lo if value is None else value


def _str(spec: Mapping[str, Any], key: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"'{key}' is required and must be a non-empty string", pointer=f"/{key}")
    return value


def _common(spec: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"times": _int(spec, "times", 1, 1_000_000, None)}
    if "fraction" in spec:
        fraction = spec["fraction"]
        ok = isinstance(fraction, int | float) and not isinstance(fraction, bool)
        if not ok or not math.isfinite(fraction) or not 0 < fraction <= 1:
            raise ConfigError(
                f"'fraction' must be a number in (0, 1], got {fraction!r}", pointer="/fraction"
            )
        out["fraction"] = float(fraction)
    if "route" in spec:
        route = spec["route"]
        if not isinstance(route, str) or not route.startswith("/"):
            raise ConfigError(
                "'route' must be a path starting with '/'",
                pointer="/route",
                hint="e.g. '/v2/accounts' or a glob such as '/v1/tickets/*'",
            )
        out["route"] = route
    if "method" in spec:
        method = spec["method"]
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise ConfigError(
                f"'method' must be one of {', '.join(sorted(_METHODS))}", pointer="/method"
            )
        out["method"] = method.upper()
    if "step" in spec:
        step = spec["step"]
        if not isinstance(step, str) or not 0 < len(step) <= 400:
            raise ConfigError(
                "'step' must be a step id (or FLOW/STEP) of the flow that sends the requests",
                pointer="/step",
            )
        out["step"] = step
    return out


def _headers(spec: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    headers = spec.get("headers", {})
    if not isinstance(headers, Mapping):
        raise ConfigError("'headers' must be an object of strings", pointer="/headers")
    out = []
    for name, value in headers.items():
        pointer = f"/headers/{_escape(str(name))}"
        if not _HEADER_NAME.fullmatch(str(name)):
            raise ConfigError(f"invalid header name {name!r}", pointer=pointer)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ConfigError("header values must be strings or integers", pointer=pointer)
        if any(c in str(value) for c in "\r\n\0"):
            raise ConfigError("header values must not contain CR, LF or NUL", pointer=pointer)
        out.append((str(name).lower(), str(value)))
    return tuple(out)


def _parse_status(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "status": _req_int(spec, "status", 200, 599, None),
        "headers": _headers(spec),
        "body": spec.get("body"),
    }


def _parse_accepted(spec: Mapping[str, Any]) -> dict[str, Any]:
    after = spec.get("callbackAfterMs")
    url = spec.get("callbackUrl")
    if after is not None:
        after = _req_int(spec, "callbackAfterMs", 0, 600_000, None)
        if url is None:
            raise ConfigError(
                "'callbackUrl' is required when 'callbackAfterMs' is set",
                pointer="/callbackUrl",
                hint="or set 'callbackAfterMs' to null for a callback that never comes",
            )
    if url is not None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("'callbackUrl' must be an http(s) URL", pointer="/callbackUrl")
        # The webhook sender only ever talks to loopback: it is a test double.
        if parts.hostname not in _LOOPBACK:
            raise ConfigError(
                f"'callbackUrl' host {parts.hostname!r} is not loopback",
                pointer="/callbackUrl",
                hint="point it at a receiver on 127.0.0.1",
            )
    header = spec.get("correlationHeader")
    if header is not None and (not isinstance(header, str) or not _HEADER_NAME.fullmatch(header)):
        raise ConfigError("'correlationHeader' must be a header name", pointer="/correlationHeader")
    return {"callback_url": url, "callback_after_ms": after, "correlation_header": header}


def _parse_scopes(spec: Mapping[str, Any]) -> dict[str, Any]:
    scopes = spec.get("scopes")
    if not isinstance(scopes, list) or not scopes:
        raise ConfigError("'scopes' must be a non-empty list of strings", pointer="/scopes")
    for index, scope in enumerate(scopes):
        if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
            raise ConfigError(f"invalid scope {scope!r}", pointer=f"/scopes/{index}")
    return {"scopes": tuple(scopes)}


def _parse_rename(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"rename_from": _str(spec, "from"), "rename_to": _str(spec, "to")}


_PARSERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "status": _parse_status,
    "empty": lambda spec: {},
    "accepted": _parse_accepted,
    "rotate_scopes": _parse_scopes,
    "token_expired": lambda spec: {},
    "not_found": lambda spec: {"body": spec.get("body")},
    "rate_limit": lambda spec: {
        "retry_after": _req_int(spec, "retry_after", 0, 86_400, 1),
        "body": spec.get("body"),
    },
    "malformed": lambda spec: {},
    "oversized": lambda spec: {"bytes": _req_int(spec, "bytes", 1, 64 * _MIB, 64 * 1024)},
    "rename_field": _parse_rename,
    "delay": lambda spec: {"ms": _req_int(spec, "ms", 0, 600_000, None)},
    "dribble": lambda spec: {
        "bytes_per_chunk": _req_int(spec, "bytes_per_chunk", 1, _MIB, 1),
        "interval_ms": _req_int(spec, "interval_ms", 0, 60_000, 100),
    },
}
