"""The whitelist of functions an expression may call.

Every function is total over JSON values: it returns a value (often null or '') for any
input rather than raising, except ``encodeUriComponent``, which raises
:class:`~harness.flow.expr.ExpressionError` on a lone surrogate as JavaScript
raises ``URIError``. ``currentTimestamp()`` reads the wall clock here; the evaluator
replaces it with the run clock of the expression's scope.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import jwt
import phonenumbers

from harness.flow.expr.core import ExpressionError, wall_clock_ms
from harness.flow.expr.js import to_text

__all__ = [
    "FUNCTIONS",
    "coalesce",
    "current_timestamp",
    "decode_jwt",
    "encode_uri_component",
    "format_phone_number",
    "matches",
    "parse_json",
    "validate_e164",
]

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# encodeURIComponent leaves A-Z a-z 0-9 and these alone; quote() always keeps "_.-~".
_URI_SAFE = "!*'()"
_MAX_PHONE_TEXT = 250  # phonenumbers' own limit on input length


def format_phone_number(s: Any, region: Any = "US") -> str:
    """``formatPhoneNumber(s, region='US')``: the E.164 form of a valid number, else ''.

    ``region`` (ISO 3166 alpha-2, default US) decides how a national number is read.
    Numbers are read as their digits; null, booleans, arrays and objects give ''.
    Idempotent: the E.164 output of a valid number formats to itself.
    """
    if isinstance(s, bool) or not isinstance(s, str | int | float):
        return ""
    text = s if isinstance(s, str) else to_text(s)
    if not text or len(text) > _MAX_PHONE_TEXT:
        return ""
    region_code = region.upper() if isinstance(region, str) else "US"
    try:
        parsed = phonenumbers.parse(text, region_code)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(parsed):
        return ""
    formatted: str = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return formatted if validate_e164(formatted) else ""


def validate_e164(s: Any) -> bool:
    """``validateE164(s)``: whether ``s`` is a string matching ``^\\+[1-9]\\d{1,14}$`` exactly.

    ASCII digits only and no trailing-newline loophole (a full match, not ``$``).
    """
    return isinstance(s, str) and _E164.fullmatch(s) is not None


def matches(s: Any, pattern: Any) -> bool:
    """``matches(s, pattern)``: whether the regular expression finds a match in ``s``.

    JavaScript ``RegExp.test`` semantics: a search (anchor with ``^``/``$`` for a full
    match) and ASCII classes (``\\d`` is 0-9 only). A non-string ``s`` or a pattern that
    does not compile gives false: the platform rejects the input rather than the call.
    """
    if not isinstance(s, str) or not isinstance(pattern, str) or len(pattern) > 512:
        return False
    try:
        return re.search(pattern, s, re.ASCII) is not None
    except re.error:
        return False


def encode_uri_component(s: Any) -> str:
    """``encodeUriComponent(s)`` with JavaScript's ``encodeURIComponent`` semantics.

    ``A-Z a-z 0-9 - _ . ! ~ * ' ( )`` stay; everything else is UTF-8, percent-encoded
    with uppercase hex. A surrogate pair counts as one character; a lone surrogate is an
    error (JS ``URIError``). Non-strings are converted with ``to_text`` first (null -> '').
    """
    text = s if isinstance(s, str) else to_text(s)
    try:
        # Joins surrogate pairs into one code point and rejects lone surrogates.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise ExpressionError("encodeUriComponent: URI malformed (lone surrogate)") from exc
    return urllib.parse.quote(text, safe=_URI_SAFE)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(s: Any) -> Any:
    """``parseJson(s)``: the JSON value of ``s`` (as text), or null when it does not parse.

    Strict JSON: ``NaN`` and ``Infinity`` are rejected. A non-string is converted with
    ``to_text`` first, so an object or array comes back equal to itself.
    """
    text = s if isinstance(s, str) else to_text(s)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None


def decode_jwt(token: Any) -> dict[str, Any] | None:
    """``decodeJwt(token)``: the claims of a JWT, signature and expiry NOT verified; else null."""
    if not isinstance(token, str):
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def current_timestamp() -> int:
    """``currentTimestamp()``: milliseconds since the epoch (the evaluator uses the run clock)."""
    return wall_clock_ms()


def coalesce(*args: Any) -> Any:
    """``coalesce(a, b, ...)``: the first argument that is not null (null if none)."""
    return next((arg for arg in args if arg is not None), None)


FUNCTIONS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {
        "formatPhoneNumber": format_phone_number,
        "validateE164": validate_e164,
        "encodeUriComponent": encode_uri_component,
        "encodeURIComponent": encode_uri_component,
        "parseJson": parse_json,
        "decodeJwt": decode_jwt,
        "currentTimestamp": current_timestamp,
        "coalesce": coalesce,
        "matches": matches,
    }
)
"""Expression function name -> implementation. Calling any other name is a parse error."""
