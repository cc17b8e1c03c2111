"""JavaScript-like value semantics for the expression engine (private).

Values are JSON values: ``None`` (null), ``bool``, ``int``/``float`` (numbers), ``str``,
``list`` (arrays) and ``dict`` (objects). ``NaN`` may exist while an operator runs, but
every arithmetic result that is not a finite number becomes ``None`` (see :func:`number`),
so evaluated expressions stay JSON-safe.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

__all__ = [
    "add",
    "arith",
    "compare",
    "length",
    "loose_equal",
    "member",
    "index",
    "number",
    "strict_equal",
    "to_number",
    "to_text",
    "truthy",
]

_SAFE_INT = 2**53
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_RADIX = re.compile(r"0([xXoObB])([0-9a-fA-F]+)", re.ASCII)
_RADIX_BASE = {"x": 16, "o": 8, "b": 2}
# JS StrWhiteSpaceChar: WhiteSpace and LineTerminator.
_JS_SPACE = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(value: int | float) -> int | float | None:
    """A JSON-safe number: NaN and the infinities become None, integral floats become ints."""
    if isinstance(value, int):
        if abs(value) <= _SAFE_INT:
            return value
        try:
            value = float(value)
        except OverflowError:
            return None
    if not math.isfinite(value):
        return None
    if value.is_integer() and abs(value) <= _SAFE_INT:
        return int(value)
    return value


def to_text(value: Any) -> str:
    """JS-like string conversion; null is '' and objects/arrays are compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=to_text)
    return str(value)


def _float_text(value: float) -> str:
    """ECMAScript Number::toString for a double (shortest round-trip digits)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = int(exponent) + k  # the decimal point sits after n digits
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{sign}{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return f"{sign}0.{'0' * -n}{digits}"
    mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{sign}{mantissa}e{'+' if n > 0 else '-'}{abs(n - 1)}"


def to_number(value: Any) -> float | int:
    """JS ToNumber: null 0, booleans 0/1, strings parsed (else NaN), arrays/objects NaN."""
    if value is None or value is False:
        return 0
    if value is True:
        return 1
    if _is_number(value):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str):
        return _string_to_number(value)
    return math.nan


def _string_to_number(text: str) -> float | int:
    text = text.strip(_JS_SPACE)
    if not text:
        return 0
    if _DECIMAL.fullmatch(text):
        parsed = float(text)
        return int(parsed) if parsed.is_integer() and abs(parsed) <= _SAFE_INT else parsed
    if text.lstrip("+-") == "Infinity":
        return -math.inf if text.startswith("-") else math.inf
    radix = _RADIX.fullmatch(text)
    if radix:
        try:
            return int(radix.group(2), _RADIX_BASE[radix.group(1).lower()])
        except ValueError:
            return math.nan
    return math.nan


def truthy(value: Any) -> bool:
    """JS truthiness: null, false, 0, NaN and '' are falsy; every array and object is truthy."""
    if value is None or value is False:
        return False
    if _is_number(value):
        return bool(value) and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


def strict_equal(left: Any, right: Any) -> bool:
    """``===``: same kind and same value (arrays/objects compared structurally)."""
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    return bool(left == right)


def loose_equal(left: Any, right: Any) -> bool:
    """``==``: JS abstract equality for null/number/string/bool.

    null equals only null; a boolean is first converted to a number; a number and a string
    compare as numbers; arrays and objects equal only arrays and objects of the same
    structure (JS compares references; JSON values have none) and never a primitive.
    """
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) and not isinstance(right, bool):
        return loose_equal(to_number(left), right)
    if isinstance(right, bool) and not isinstance(left, bool):
        return loose_equal(left, to_number(right))
    if _is_number(left) and isinstance(right, str):
        return bool(left == to_number(right))
    if isinstance(left, str) and _is_number(right):
        return bool(to_number(left) == right)
    return strict_equal(left, right)


def compare(op: str, left: Any, right: Any) -> bool:
    """``< <= > >=``: two strings by code point, anything else as numbers (NaN is false)."""
    if not (isinstance(left, str) and isinstance(right, str)):
        left, right = to_number(left), to_number(right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def add(left: Any, right: Any) -> Any:
    """``+``: concatenation (via :func:`to_text`) if either side is a string, array or object."""
    if isinstance(left, str | list | dict) or isinstance(right, str | list | dict):
        return to_text(left) + to_text(right)
    return number(to_number(left) + to_number(right))


def arith(op: str, left: Any, right: Any) -> int | float | None:
    """``- * / %`` on JS numbers; a division or remainder by zero is null (JS: Infinity/NaN)."""
    a, b = to_number(left), to_number(right)
    if op == "-":
        return number(a - b)
    if op == "*":
        return number(a * b)
    if b == 0 or math.isnan(b) or math.isnan(a):
        return None
    if op == "/":
        return number(a / b)
    if isinstance(a, int) and isinstance(b, int):
        rest = abs(a) % abs(b)
        return -rest if a < 0 else rest
    return number(math.fmod(a, b))


def length(value: Any) -> int | None:
    """JS ``.length`` of a string or array; null for anything else."""
    if isinstance(value, str | list):
        return len(value)
    return None


def member(value: Any, name: str) -> Any:
    """``value.name``: an object's field, a string's or array's length, else null."""
    if isinstance(value, dict):
        return value.get(name)
    if name == "length":
        return length(value)
    return None


def index(value: Any, key: Any) -> Any:
    """``value[key]``: null when out of range, of the wrong kind, or on null."""
    if isinstance(value, dict):
        return value.get(key if isinstance(key, str) else to_text(key))
    if isinstance(key, str):
        return member(value, key)
    if not isinstance(value, str | list) or not _is_number(key):
        return None
    if isinstance(key, float) and not key.is_integer():
        return None
    position = int(key)
    return value[position] if 0 <= position < len(value) else None
