"""RFC 9535 JSONPath queries over response documents, null-safe.

A thin layer over ``jsonpath-rfc9535``: compiled queries are cached, a path that matches
nothing (a missing key, ``[0]`` of an empty array, a step into a string or number) gives
``None`` or ``[]`` instead of an error, and an invalid path raises
:class:`~harness.flow.expr.ExpressionError` with the offset of the problem.

A path is bounded before the library sees it. The library evaluates a query as one
generator per segment, nested: 50,000 segments overflow the C stack and kill the process
(catching RecursionError cannot help), and every ``..`` multiplies the work by the
document's depth. So a path has at most :data:`MAX_PATH_LENGTH` characters,
:data:`MAX_PATH_SEGMENTS` segments and :data:`MAX_PATH_DESCENDANTS` ``..`` segments
(nested filter queries included); under those bounds a query's time is linear in the
document (a 32 KB response at most).
"""

from __future__ import annotations

import functools
from typing import Any

import jsonpath_rfc9535
from jsonpath_rfc9535 import JSONPathError, JSONPathQuery

from harness.flow.expr.core import ExpressionError

__all__ = [
    "MAX_PATH_DESCENDANTS",
    "MAX_PATH_LENGTH",
    "MAX_PATH_SEGMENTS",
    "check_path",
    "is_valid_path",
    "query_all",
    "query_first",
]

MAX_PATH_LENGTH = 2048
"""Longest JSONPath accepted, in characters (real mappings are under 100)."""
MAX_PATH_SEGMENTS = 64
"""Most segments (``.name``, ``[...]``, ``..x``) in one path, nested filter queries included."""
MAX_PATH_DESCENDANTS = 2
"""Most ``..`` segments in one path: each multiplies the work by the document's depth."""

_ENV = jsonpath_rfc9535.JSONPathEnvironment()


def _bound(path: str) -> None:
    """Refuse a path past the bounds, in one pass over its text (quotes honoured)."""
    if len(path) > MAX_PATH_LENGTH:
        raise ExpressionError(
            f"JSONPath longer than {MAX_PATH_LENGTH} characters", source=path, offset=0
        )
    segments = descendants = 0
    quote, pos = "", 0
    while pos < len(path):
        char = path[pos]
        if quote:
            if char == "\\":
                pos += 1  # an escaped character, never the closing quote
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "[" or char == ".":
            segments += 1
            if path.startswith("..", pos):
                descendants += 1
                pos += 1
            if segments > MAX_PATH_SEGMENTS or descendants > MAX_PATH_DESCENDANTS:
                limit = (
                    f"more than {MAX_PATH_SEGMENTS} segments"
                    if segments > MAX_PATH_SEGMENTS
                    else f"more than {MAX_PATH_DESCENDANTS} '..' segments"
                )
                raise ExpressionError(f"JSONPath with {limit}", source=path, offset=pos)
        pos += 1


@functools.lru_cache(maxsize=512)
def _compile(path: str) -> JSONPathQuery:
    _bound(path)
    try:
        return _ENV.compile(path)
    except JSONPathError as exc:
        offset = exc.token.index if exc.token is not None else 0
        detail = exc.args[0] if exc.args else str(exc)
        raise ExpressionError(str(detail), source=path, offset=offset) from None
    except RecursionError:
        raise ExpressionError("JSONPath nested too deeply", source=path, offset=0) from None


def check_path(path: str) -> None:
    """Raise :class:`ExpressionError` unless ``path`` is a valid RFC 9535 query."""
    _compile(path)


def is_valid_path(path: str) -> bool:
    """Whether ``path`` is a valid RFC 9535 query (``$``-rooted, no surrounding spaces)."""
    try:
        _compile(path)
    except ExpressionError:
        return False
    return True


def query_all(path: str, document: Any) -> list[Any]:
    """The values of every node ``path`` selects in ``document`` (``[]`` when none)."""
    query = _compile(path)
    try:
        return [node.value for node in query.finditer(document)]
    except (JSONPathError, RecursionError) as exc:
        raise ExpressionError(f"cannot evaluate JSONPath: {exc}", source=path) from None


def query_first(path: str, document: Any) -> Any:
    """The value of the first node ``path`` selects in ``document``, or ``None``."""
    query = _compile(path)
    try:
        node = query.find_one(document)
    except (JSONPathError, RecursionError) as exc:
        raise ExpressionError(f"cannot evaluate JSONPath: {exc}", source=path) from None
    return None if node is None else node.value
