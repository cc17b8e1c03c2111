"""The response body a flow depends on, as a Pact body and its matching rules.

Only the fields the step's ``responseMapping`` reads appear, each with a ``type``
matcher (a ``regex`` one when the schema declares a pattern the example fits), so a
provider may answer any values of the documented shape and add fields of its own; an
array a mapping indexes may be empty (``min: 0``): the lint, not the pact, checks the
flow guards ``[0]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from harness.contract.openapi import Spec, resolve_ref
from harness.contract.responses import mapping_paths
from harness.contract.schemas import parse_jsonpath, walk_jsonpath

__all__ = ["response_body"]

Rules = dict[str, dict[str, Any]]
_WILDCARD = -(10**8)


def response_body(
    mapping: Mapping[str, Any], spec: Spec, schema_at: str, examples: Iterable[Any]
) -> tuple[Any, Rules]:
    """The skeleton body holding every mapped path, and its ``$.``-keyed matching rules."""
    documented = [e for e in examples if isinstance(e, dict | list)]
    body: Any = None
    rules: Rules = {}
    for value in mapping.values():
        for path in mapping_paths(str(value)) or []:
            segments = parse_jsonpath(path)
            if not segments:
                continue
            walk = walk_jsonpath(spec, schema_at, segments)
            if not walk.found or not walk.ends_at:
                continue  # the consumer check reports it; the pact shows what is documented
            leaf = _leaf(spec, walk.ends_at[0], segments, documented)
            body = _place(body, segments, leaf, rules, "$")
            rules.setdefault(_rule_path(segments), _leaf_rule(spec, walk.ends_at[0], leaf))
    return body, rules


def _leaf(spec: Spec, schema_at: str, segments: list[str | int], examples: list[Any]) -> Any:
    """A documented example of the field (pruned to its required fields), else one made
    from its schema."""
    for example in examples:
        found, value = _at(example, segments)
        if found and value is not None:
            return _required_only(spec, schema_at, value)
    return _from_schema(spec, schema_at, 0)


def _at(document: Any, segments: list[str | int]) -> tuple[bool, Any]:
    for segment in segments:
        if isinstance(segment, int) and isinstance(document, list):
            index = 0 if segment < _WILDCARD else segment
            if not -len(document) <= index < len(document):
                return False, None
            document = document[index]
        elif isinstance(segment, str) and isinstance(document, dict) and segment in document:
            document = document[segment]
        else:
            return False, None
    return True, document


def _schema(spec: Spec, pointer: str) -> dict[str, Any]:
    node = resolve_ref(spec.document, pointer)
    for _ in range(16):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            break
        node = resolve_ref(spec.document, node["$ref"])
    return node if isinstance(node, dict) else {}


def _required_only(spec: Spec, schema_at: str, value: Any) -> Any:
    """An object keeps only what its schema requires (the flow reads no more of it)."""
    schema = _schema(spec, schema_at)
    if isinstance(value, dict) and isinstance(schema.get("required"), list):
        return {k: v for k, v in value.items() if k in schema["required"]}
    return value


def _from_schema(spec: Spec, pointer: str, depth: int) -> Any:
    schema = _schema(spec, pointer)
    if "example" in schema:
        return schema["example"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    if kind == "object" and depth < 6:
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        required = [k for k in schema.get("required") or [] if k in props]
        return {k: _from_schema(spec, f"{pointer}/properties/{k}", depth + 1) for k in required}
    if kind == "array":
        return []
    return {"integer": 1, "number": 1.5, "boolean": True}.get(str(kind), "text")


def _place(node: Any, segments: list[str | int], leaf: Any, rules: Rules, at: str) -> Any:
    """Put ``leaf`` at ``segments`` inside ``node``; arrays on the way get ``min: 0``."""
    if not segments:
        return node if node is not None else leaf
    head, rest = segments[0], segments[1:]
    if isinstance(head, str):
        container = node if isinstance(node, dict) else {}
        container[head] = _place(container.get(head), rest, leaf, rules, f"{at}.{head}")
        return container
    items = node if isinstance(node, list) and node else [None]
    rules[at] = {"matchers": [{"match": "type", "min": 0}]}
    items[0] = _place(items[0], rest, leaf, rules, f"{at}[*]")
    return items


def _rule_path(segments: list[str | int]) -> str:
    text = "$"
    for segment in segments:
        text += "[*]" if isinstance(segment, int) else f".{segment}"
    return text


def _leaf_rule(spec: Spec, schema_at: str, leaf: Any) -> dict[str, Any]:
    pattern = _schema(spec, schema_at).get("pattern")
    if isinstance(pattern, str) and isinstance(leaf, str) and _fits(pattern, leaf):
        return {"matchers": [{"match": "regex", "regex": pattern}]}
    if isinstance(leaf, list):
        return {"matchers": [{"match": "type", "min": 0}]}
    return {"matchers": [{"match": "type"}]}


def _fits(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return False
