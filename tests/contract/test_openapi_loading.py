"""Tolerant spec loading: 3.0 / 3.1 / Swagger 2.0, $refs, combinators, gaps, bad text."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contract.openapi import load_spec, parse_spec, resolve_ref
from harness.contract.schemas import media_schema, parse_jsonpath, validate, walk_jsonpath
from harness.errors import ConfigError

from .conftest import OPENAPI

SPEC_30 = """
openapi: 3.0.3
info: {title: Thirty, version: "1"}
servers: [{url: "https://{region}.example.com/api", variables: {region: {default: eu}}}]
paths:
  /things/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer}}
    get:
      responses:
        200:
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Thing"}
        default: {description: anything else}
components:
  schemas:
    Thing:
      allOf:
        - {$ref: "#/components/schemas/Base"}
        - type: object
          properties:
            detail:
              oneOf:
                - {type: object, properties: {a: {type: string}}}
                - {type: object, properties: {b: {type: string, nullable: true}}}
    Base:
      type: object
      properties:
        name: {type: string, nullable: true}
        parent: {$ref: "#/components/schemas/Thing"}
"""


def test_bundled_specs_load_with_their_operations() -> None:
    crm = load_spec(OPENAPI / "crm.yaml")
    tickets = load_spec(OPENAPI / "tickets.yaml")
    assert (crm.version, crm.servers[0].host) == ("3.1", "api.crm-provider.com")
    assert [op.label for op in tickets.operations] == [
        "POST /v1/tickets",
        "GET /v1/tickets/{ticket_id}",
        "GET /v1/tickets/jobs/{job_id}",
    ]
    assert crm.unsupported == ()


def test_openapi_30_server_variables_path_level_params_and_nullable() -> None:
    spec = parse_spec(SPEC_30)
    (op,) = spec.operations
    assert spec.servers[0].host == "eu.example.com"
    assert spec.servers[0].base_path == "/api"
    assert [(p.name, p.location, p.required) for p in op.parameters] == [("id", "path", True)]
    assert set(op.responses) == {"200", "default"}
    schema_at, _ = media_schema(spec, op.responses["200"])
    assert schema_at is not None
    # Draft 4 + nullable: null is allowed only where nullable says so.
    assert validate(spec, "#/components/schemas/Base", {"name": None}) == []
    assert validate(spec, "#/components/schemas/Base", {"name": 3})


def test_jsonpath_walks_through_allof_oneof_and_recursive_refs() -> None:
    spec = parse_spec(SPEC_30)
    at = "#/components/schemas/Thing"
    for path in ("$.name", "$.detail.a", "$.detail.b", "$.parent.parent.name"):
        assert walk_jsonpath(spec, at, parse_jsonpath(path) or []).found, path
    missing = walk_jsonpath(spec, at, parse_jsonpath("$.detail.c") or [])
    assert not missing.found and missing.segment == "c"


def test_swagger_20_is_read() -> None:
    spec = parse_spec(
        'swagger: "2.0"\ninfo: {title: Old, version: "1"}\nhost: api.old.com\nbasePath: /v1\n'
        "paths:\n  /calls:\n    post:\n      parameters:\n"
        "        - {name: body, in: body, required: true, schema: {type: object}}\n"
        "        - {name: limit, in: query, type: integer, maximum: 10}\n"
        "      responses:\n        200: {description: ok, schema: {type: object}}\n"
    )
    (op,) = spec.operations
    assert spec.servers[0].host == "api.old.com" and spec.servers[0].base_path == "/v1"
    assert list(op.body_schemas.values()) == ["#/paths/~1calls/post/parameters/0/schema"]
    assert [p.name for p in op.parameters] == ["limit"]


def test_gaps_become_unsupported_notes_not_errors() -> None:
    spec = parse_spec(
        "openapi: 3.1.0\ninfo: {title: Gappy}\npaths:\n  /a: [not, an, object]\n"
        "  /b:\n    $ref: '#/nowhere'\n  /c:\n    get:\n      parameters: [{name: x}]\n"
        "      requestBody: {$ref: 'other.yaml#/Body'}\n"
    )
    assert [op.label for op in spec.operations] == ["GET /c"]
    text = "\n".join(spec.unsupported)
    assert "/paths/~1a" in text and "/paths/~1b" in text and "parameter without name" in text
    assert "requestBody" in text
    assert resolve_ref(spec.document, "#/paths/~1b") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("openapi: 3.0.0\npaths: {a: [1, 2\n", "not valid YAML at line"),
        ('{"openapi": "3.0.0", ', "not valid JSON at line 1"),
        ("just a string", "not an OpenAPI document"),
        ("openapi: 9.9\n", "unsupported or missing version"),
        ("a: &a [*a]\nopenapi: 3.0.0\n", "recursive YAML alias"),
    ],
)
def test_unparseable_text_is_a_config_error_naming_the_file(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec(text, file=Path("spec.yaml"))
    assert str(caught.value).startswith("spec.yaml")
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
