"""Request bodies decoded as Toxiproxy's Go structs decode them: types, ranges, errors.

Go's ``encoding/json`` rejects what Python's ``json`` lets through: ``NaN`` and
``Infinity`` are syntax errors, an integer field is an ``int64`` (no ``1.5``, no
``1e3``, nothing past 2**63), toxicity is a ``float32``. Each is a 400 here, never a
Python overflow turned into a 500.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .errors import ApiError, bad_body

__all__ = ["OutOfRange", "decode", "field", "json_kind", "obj"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_FLOAT32_MAX = 3.4028234663852886e38
_GO_TYPES: dict[type, str] = {str: "string", bool: "bool", int: "int64", float: "float32"}


class OutOfRange(str):
    """A JSON number no Go numeric type holds; keeps its text for the error message."""


def _parse_int(text: str) -> int | OutOfRange:
    # Checking the length first also keeps 5000-digit numbers away from int()'s limit.
    if len(text.lstrip("-")) > 19:
        return OutOfRange(text)
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else OutOfRange(text)


def _parse_float(text: str) -> float | OutOfRange:
    value = float(text)
    return value if math.isfinite(value) else OutOfRange(text)


class _Constant(ValueError):
    pass


def _parse_constant(text: str) -> Any:
    raise _Constant(text)


_DECODER = json.JSONDecoder(
    parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
)


def decode(raw: bytes) -> Any:
    """One JSON value from ``raw``, ignoring what follows it, as Go's json.Decoder does."""
    text = raw.decode("utf-8", errors="replace").lstrip()
    if not text:
        raise bad_body("EOF")
    try:
        value, _ = _DECODER.raw_decode(text)
    except _Constant as exc:
        word = str(exc)
        if word.startswith("-"):
            raise bad_body(f"invalid character '{word[1]}' in numeric literal") from None
        raise bad_body(f"invalid character '{word[0]}' looking for beginning of value") from None
    except json.JSONDecodeError as exc:
        raise bad_body(f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise bad_body("exceeded max depth") from None
    return value


def field(body: Mapping[str, Any], key: str, kind: type, default: Any, where: str = "") -> Any:
    """Go's json.Decode rules: null keeps the default, a wrong type or range is a 400."""
    value = body.get(key)
    if value is None:
        return default
    if kind in (int, float) and isinstance(value, OutOfRange):
        raise _unmarshal(str(value), where, key, kind)
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        if abs(value) > _FLOAT32_MAX:
            raise _unmarshal(str(value), where, key, kind)
        return float(value)
    if isinstance(value, OutOfRange) or not isinstance(value, kind):
        raise bad_body(f"field {key} must be of type {_GO_TYPES.get(kind, 'object')}")
    if kind is int and isinstance(value, bool):
        raise bad_body(f"field {key} must be of type int64")
    return value


def _unmarshal(text: str, where: str, key: str, kind: type) -> ApiError:
    return bad_body(
        f"json: cannot unmarshal number {text} into Go struct field {where}.{key} "
        f"of type {_GO_TYPES[kind]}"
    )


def obj(body: Any, what: str) -> Mapping[str, Any]:
    """A JSON object, or ``{}`` for null (Go's "no fields given"); 400 otherwise."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_body(f"json: cannot unmarshal {json_kind(body)} into Go value of type {what}")
    return body


def json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float | OutOfRange):
        return "number"
    return "string" if isinstance(value, str) else "null"
