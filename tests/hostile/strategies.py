"""Hypothesis strategies for hostile inputs: long or deep JSONPaths, templates,
expressions, and OpenAPI specs, each built from a few pieces repeated up to a size.

Every input is something a user could write (or generate by mistake) in a flow file or
a spec under the input caps. ``@example``s in the fuzz test pin the shapes that once
broke the harness (issue 20).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

PATH_PIECES = [
    "[0]", ".a", "..a", "[*]", "..*", "['a.b']", "[?@.a]", "[?@[?@.a]]", "[-1]", "[0:9:2]",
    "['\\'']", "[", "]", ".", "$",
]  # fmt: skip
TEMPLATE_PIECES = ["{{", "}}", "{{a}}", "{{ a.b[0] }}", "'", '"', "\\", "{", "}", "x", "$[0]"]
EXPRESSION_PIECES = [
    "a", ".b", "(", ")", " || ", " && ", "!", "-", "+", "1", "'s'", "$.a", "[0]", " ? ",
    " : ", " == ", "encodeUriComponent(", ",", "\\", "'", "{{a}}",
]  # fmt: skip


@st.composite
def repeated(draw: st.DrawFn, pieces: list[str], max_size: int, prefix: str = "") -> str:
    """``prefix`` + a short pattern of ``pieces`` repeated to at most ``max_size`` chars."""
    pattern = "".join(draw(st.lists(st.sampled_from(pieces), min_size=1, max_size=4)))
    size = draw(st.integers(min_value=1, max_value=max_size))
    return prefix + (pattern * (size // len(pattern) + 1))[:size]


def jsonpaths(max_size: int) -> st.SearchStrategy[str]:
    return repeated(PATH_PIECES, max_size, prefix="$")


def templates(max_size: int) -> st.SearchStrategy[str]:
    return repeated(TEMPLATE_PIECES, max_size)


def expressions(max_size: int) -> st.SearchStrategy[str]:
    return repeated(EXPRESSION_PIECES, max_size)


@st.composite
def specs(draw: st.DrawFn, max_paths: int) -> dict[str, Any]:
    """An OpenAPI document: many paths, a deep schema, a long $ref chain, odd numbers."""
    depth = draw(st.integers(min_value=0, max_value=60))
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"data": schema}}
    chain = draw(st.integers(min_value=0, max_value=200))
    schemas = {f"S{i}": {"$ref": f"#/components/schemas/S{i + 1}"} for i in range(chain)}
    schemas[f"S{chain}"] = schema
    if draw(st.booleans()):
        schemas["Loop"] = {"$ref": "#/components/schemas/Loop"}  # a $ref to itself
    maximum = draw(st.sampled_from([2**64, 10**300, -(2**63), 1e308, 0]))
    response = {"200": {"description": "ok", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/S0"}}}}}  # fmt: skip
    paths: dict[str, Any] = {
        "/v2/accounts": {"get": {"parameters": [
            {"name": "phone", "in": "query", "schema": {"type": "integer", "maximum": maximum}}
        ], "responses": response}},
    }  # fmt: skip
    for i in range(draw(st.integers(min_value=0, max_value=max_paths))):
        paths[f"/v2/x{i}/{{id}}"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    return {
        "openapi": draw(st.sampled_from(["3.0.3", "3.1.0"])),
        "info": {"title": "crm", "version": "1"},
        "servers": [{"url": "https://api.crm-provider.com"}],
        "paths": paths,
        "components": {"schemas": schemas},
    }
