"""RFC 9535 JSONPath queries over response documents, null-safe.

A thin layer over ``jsonpath-rfc9535``: compiled queries are cached, a path that matches
nothing (a missing key, ``[0]`` of an empty array, a step into a string or number) gives
``None`` or ``[]`` instead of an error, and an invalid path raises
:class:`~harness.flow.expr.ExpressionError` with the offset of the problem.
"""

from __future__ import annotations

import functools
from typing import Any

import jsonpath_rfc9535
from jsonpath_rfc9535 import JSONPathError, JSONPathQuery

from harness.flow.expr.core import ExpressionError

__all__ = ["check_path", "is_valid_path", "query_all", "query_first"]

_ENV = jsonpath_rfc9535.JSONPathEnvironment()


@functools.lru_cache(maxsize=512)
def _compile(path: str) -> JSONPathQuery:
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
