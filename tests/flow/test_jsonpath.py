"""RFC 9535 queries over response documents: first match, all matches, null-safety."""

from __future__ import annotations

from typing import Any

import pytest

from harness.flow.expr import ExpressionError
from harness.flow.expr.jsonpath import is_valid_path, query_all, query_first

DOC: dict[str, Any] = {
    "status": "ok",
    "data": [
        {"id": 1, "attributes": {"loyalty_tier": "GOLD", "support_tickets": 0}},
        {"id": 2, "attributes": {"loyalty_tier": "PLATINUM", "support_tickets": 4}},
    ],
    "metadata": {"estimated_resolution_minutes": 30, "empty": [], "zero": 0, "null": None},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DOC),
        ("$.status", "ok"),
        ("$.data[0].id", 1),
        ("$.data[1].attributes.loyalty_tier", "PLATINUM"),
        ("$.data[-1].id", 2),  # RFC 9535: negative indexes count from the end
        ("$['metadata']['estimated_resolution_minutes']", 30),
        ("$.data[*].id", 1),
        ("$..loyalty_tier", "GOLD"),
        ("$.data[?@.attributes.support_tickets > 0].id", 2),
        ("$.metadata.zero", 0),
        ("$.metadata.empty", []),
        # null-safety: no match is None, never an exception
        ("$.missing", None),
        ("$.data[5]", None),
        ("$.data[-9]", None),
        ("$.metadata.empty[0]", None),
        ("$.status.length", None),
        ("$.status[0]", None),
        ("$.metadata.zero.x", None),
        ("$.metadata.null.x", None),
        ("$.data.id", None),
    ],
)
def test_query_first(path: str, expected: Any) -> None:
    assert query_first(path, DOC) == expected


def test_a_null_value_and_no_match_both_read_as_none() -> None:
    assert query_first("$.metadata.null", DOC) is None
    assert query_all("$.metadata.null", DOC) == [None]
    assert query_all("$.metadata.absent", DOC) == []


@pytest.mark.parametrize("document", [None, 0, "text", True, [], {}, [[]]])
def test_queries_over_any_document_are_null_safe(document: Any) -> None:
    assert query_first("$.data[0].id", document) is None
    assert query_all("$.data[0].id", document) == []


def test_query_all() -> None:
    assert query_all("$.data[*].id", DOC) == [1, 2]
    assert query_all("$..support_tickets", DOC) == [0, 4]
    assert query_all("$.data[0]", {"data": []}) == []


@pytest.mark.parametrize(
    ("path", "offset"),
    [
        ("$.", 2),
        ("$[", 2),
        ("data", 0),
        (" $.a", 0),
        ("$.a ", 4),
        ("$.a b", 4),
        ("$[?@.a ==]", 9),
    ],
)
def test_invalid_paths_raise_with_an_offset(path: str, offset: int) -> None:
    assert not is_valid_path(path)
    with pytest.raises(ExpressionError) as info:
        query_first(path, DOC)
    assert info.value.source == path
    assert info.value.offset == offset
    with pytest.raises(ExpressionError):
        query_all(path, DOC)


@pytest.mark.parametrize("path", ["$", "$.a", "$..a", "$['a b']", "$[0:2]", "$[?@.x]", "$.*"])
def test_valid_paths(path: str) -> None:
    assert is_valid_path(path)
