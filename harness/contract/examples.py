"""Spec defects: documented examples that violate the spec's own schemas.

Such a spec misleads every consumer that copies its examples, and it makes a provider run
blame the backend for the spec's mistake, so these are reported apart from backend failures.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.contract.openapi import Spec, escape, resolve_ref
from harness.contract.schemas import Unsupported, validate

__all__ = ["SpecDefect", "example_defects"]

_SKIP = {"example", "examples", "enum", "const", "default", "x-example"}
# Keys whose values are maps of names (a property may be called "type"): not schemas.
_MAPS = {
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "schemas",
    "paths",
    "responses",
    "headers",
    "content",
    "links",
    "callbacks",
    "webhooks",
    "securitySchemes",
    "requestBodies",
    "parameters",
    "components",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SpecDefect:
    """An example at ``pointer`` that breaks the schema at ``schema_pointer``."""

    pointer: str
    schema_pointer: str
    message: str

    def line(self) -> str:
        return f"{self.pointer}: example violates {self.schema_pointer}: {self.message}"


def example_defects(spec: Spec) -> tuple[list[SpecDefect], list[str]]:
    """Every example checked against its schema; returns (defects, unsupported notes)."""
    defects: list[SpecDefect] = []
    notes: list[str] = []
    for pointer, schema_pointer, value in _examples(spec, spec.document, "#", 0):
        try:
            # Formats asserted: a 'uuid' example that is no UUID misleads every client.
            errors = validate(spec, schema_pointer, value, formats=True)
        except Unsupported as exc:
            notes.append(str(exc))
            continue
        if errors:
            defects.append(
                SpecDefect(pointer=pointer, schema_pointer=schema_pointer, message=errors[0])
            )
    return defects, notes


def _examples(
    spec: Spec, node: Any, at: str, depth: int, is_map: bool = False
) -> Iterator[tuple[str, str, Any]]:
    """(example pointer, schema pointer, value) for media/parameter/schema examples."""
    if depth > 60:
        return
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _examples(spec, item, f"{at}/{i}", depth + 1)
        return
    if not isinstance(node, dict):
        return
    if not is_map:
        yield from _own(spec, node, at)
    for key, value in node.items():
        if key not in _SKIP and key != "$ref":
            child_map = not is_map and key in _MAPS and key != "parameters"
            yield from _examples(spec, value, f"{at}/{escape(key)}", depth + 1, child_map)


def _own(spec: Spec, node: dict[str, Any], at: str) -> Iterator[tuple[str, str, Any]]:
    schema_at: str | None = None
    if isinstance(node.get("schema"), dict):  # a media type or a parameter
        schema_at = f"{at}/schema"
    elif _looks_like_schema(node):
        schema_at = at
    if schema_at is None:
        return
    if "example" in node:
        yield f"{at}/example", schema_at, node["example"]
    examples = node.get("examples")
    if isinstance(examples, dict) and schema_at != at:
        for name in examples:
            resolved = resolve_ref(spec.document, f"{at}/examples/{escape(name)}")
            if isinstance(resolved, dict) and "value" in resolved:
                yield f"{at}/examples/{escape(name)}/value", schema_at, resolved["value"]


def _looks_like_schema(node: dict[str, Any]) -> bool:
    keys = {"type", "properties", "items", "allOf", "oneOf", "anyOf", "enum"}
    return bool(keys & node.keys()) and "in" not in node and "content" not in node
