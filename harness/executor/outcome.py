"""What one HTTP attempt produced, and how a response is read into it.

Pure values and functions: the JSON document of a body (strict JSON: no NaN, no
numbers past a double), the OAuth error code, and a `Retry-After` in milliseconds.
The outcome class of a status is :func:`harness.flow.outcomes.classify`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from harness.executor.wire import WireResponse
from harness.flow.expr import MISSING
from harness.inputs import nested_deeper

__all__ = [
    "Attempt",
    "StepResult",
    "error_code",
    "parse_json",
    "retry_after_ms",
]

_WWW_AUTH_ERROR = re.compile(r'error="?([A-Za-z_]+)"?')


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One request on the wire (or the breaker refusing one: number 0)."""

    number: int
    outcome: str
    status: int = 0
    code: str = ""
    started_ms: float = 0.0
    elapsed_ms: float = 0.0
    body_sha256: str = ""
    retry_after_ms: float | None = None
    location: str = ""
    document: Any = MISSING


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    outcome: str
    status: int
    attempts: tuple[Attempt, ...]
    elapsed_ms: float
    location: str = ""
    error_code: str = ""
    inline_token_fetch: bool = False
    variables: Mapping[str, Any] = field(default_factory=dict)
    # Placeholders that left a blank in the request sent (`patient_id=null`).
    blanks: tuple[str, ...] = ()


# Deeper than any real payload; every later consumer (JSONPath, expressions, reports)
# walks a document recursively, and a 32 KB body can nest 16,000 deep.
_MAX_DEPTH = 64


def parse_json(body: bytes) -> Any:
    """The JSON document of a body, or MISSING: empty, not JSON, or nested past 64 levels
    (the platform's defaultResponse stands in for what it cannot read)."""
    if not body.strip():
        return MISSING
    if body.count(b"[") + body.count(b"{") > _MAX_DEPTH and nested_deeper(
        body.decode("utf-8", "replace"), _MAX_DEPTH
    ):
        return MISSING
    try:
        return json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return MISSING


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is past the range of a double")
    return value


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's parser accepts them, the platform's does not.
    raise ValueError(f"{name} is not JSON")


def error_code(response: WireResponse, document: Any) -> str:
    if response.status < 400:
        return ""
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        return str(document["error"])
    match = _WWW_AUTH_ERROR.search(response.headers.get("www-authenticate", ""))
    return match.group(1) if match else ""


def retry_after_ms(response: WireResponse, now_wall_ms: int) -> float | None:
    if response.status not in (429, 503):
        return None
    raw = response.headers.get("retry-after", "").strip()
    if not raw:
        return None
    if raw.isdigit():
        return float(raw) * 1000
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() * 1000 - now_wall_ms)
