"""What a stub answers: the operations of an OpenAPI spec and a response body for each.

The body is the spec's own example when it has one (media `example`, the first of
`examples`, the schema's `example`), else one generated from the response schema by
a small walker, deterministic per seed and operation. Only local ``$ref``s
(``#/components/...``) are followed, as the bundled contracts use; a remote one is a
ConfigError naming the file and the pointer.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ConfigError
from harness.openapi_file import load_openapi

__all__ = ["Operation", "load_operations", "security_schemes"]

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_MAX_DEPTH = 12  # deep enough for real payloads, shallow enough for recursive schemas


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """One operation: where it is served, what it answers, which credentials it needs."""

    method: str
    path: str  # with the servers' base path, in Starlette's {param} syntax
    status: int
    body: Any  # None: no JSON body
    security: tuple[Mapping[str, Any], ...] = ()  # any one requirement suffices
    pointer: str = ""
    has_array: bool = False
    fields: tuple[str, ...] = field(default_factory=tuple)
    documented: tuple[str, ...] = ()  # every response code the spec lists ("202", "4XX", ...)

    def matches(self, method: str, path: str) -> bool:
        """Whether a request `method path` (a concrete path) is this operation's."""
        if method.upper() != self.method:
            return False
        want, got = self.path.strip("/").split("/"), path.strip("/").split("/")
        return len(want) == len(got) and all(
            w == g or (w.startswith("{") and w.endswith("}") and g)
            for w, g in zip(want, got, strict=True)
        )


def load_spec(path: Path) -> Mapping[str, Any]:
    """The spec document, read and checked by the one reader the gate uses too."""
    return load_openapi(path).document


def security_schemes(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """`components.securitySchemes`, or an empty mapping."""
    schemes = spec.get("components", {}).get("securitySchemes", {})
    return schemes if isinstance(schemes, dict) else {}


def load_operations(path: Path, *, seed: int = 0) -> tuple[Mapping[str, Any], list[Operation]]:
    """The spec and every operation in it, each with its canned success response."""
    spec = load_spec(path)
    resolver = _Refs(spec, path)
    servers = spec.get("servers") or [{}]
    base = urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")
    root_security = spec.get("security", [])
    operations = []
    for route, item in (spec.get("paths") or {}).items():  # 3.1 may leave paths out
        item = resolver.resolve(item, f"/paths/{_escape(route)}")
        for method in _METHODS:
            if not isinstance(item, dict) or method not in item:
                continue
            pointer = f"/paths/{_escape(route)}/{method}"
            op = resolver.resolve(item[method], pointer)
            rng = random.Random(f"{seed}:{method}:{route}")
            status, body = _success(op, resolver, rng, pointer)
            operations.append(
                Operation(
                    method=method.upper(),
                    path=base + route,
                    status=status,
                    body=body,
                    security=tuple(op.get("security", root_security) or ()),
                    pointer=pointer,
                    has_array=_has_array(body),
                    fields=tuple(_field_names(body)),
                    documented=tuple(str(c) for c in (op.get("responses") or {})),
                )
            )
    return spec, operations


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


class _Refs:
    def __init__(self, spec: Mapping[str, Any], path: Path) -> None:
        self.spec, self.path = spec, path

    def resolve(self, node: Any, pointer: str) -> Any:
        for _ in range(_MAX_DEPTH):
            if not isinstance(node, dict) or "$ref" not in node:
                return node
            ref = str(node["$ref"])
            if not ref.startswith("#/"):
                raise ConfigError(
                    f"only local $refs are followed, not {ref!r}",
                    file=self.path,
                    pointer=pointer + "/$ref",
                    hint="bundle the spec into one file (e.g. redocly bundle)",
                )
            node = self.spec
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(node, dict) or part not in node:
                    raise ConfigError(
                        f"$ref {ref!r} points nowhere", file=self.path, pointer=pointer + "/$ref"
                    )
                node = node[part]
        return node


def _success(
    op: Mapping[str, Any], refs: _Refs, rng: random.Random, pointer: str
) -> tuple[int, Any]:
    responses = op.get("responses", {}) if isinstance(op, dict) else {}
    codes = sorted(str(c) for c in responses if str(c).startswith("2") and str(c).isdigit())
    key = codes[0] if codes else ("default" if "default" in responses else "")
    status = int(key) if key.isdigit() else 200
    response = refs.resolve(responses.get(key, {}), f"{pointer}/responses/{key}")
    content = response.get("content", {}) if isinstance(response, dict) else {}
    media_type = next((m for m in content if "json" in m), None)
    if media_type is None:
        return status, None
    media = refs.resolve(content[media_type], f"{pointer}/responses/{key}/content")
    if "example" in media:
        return status, media["example"]
    examples = media.get("examples")
    if isinstance(examples, dict) and examples:
        first = refs.resolve(next(iter(examples.values())), f"{pointer}/examples")
        if isinstance(first, dict) and "value" in first:
            return status, first["value"]
    return status, _Walker(refs, rng).example(media.get("schema", {}), "value", 0)


class _Walker:
    """Schema -> one plausible instance; the same seed gives the same instance."""

    def __init__(self, refs: _Refs, rng: random.Random) -> None:
        self.refs, self.rng = refs, rng

    def example(self, schema: Any, name: str, depth: int) -> Any:
        schema = self.refs.resolve(schema, "")
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return None
        for key in ("example", "const", "default"):
            if key in schema:
                return schema[key]
        if schema.get("enum"):
            return schema["enum"][0]
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                value = self.example(part, name, depth + 1)
                if isinstance(value, dict):
                    merged.update(value)
            return merged
        for key in ("oneOf", "anyOf"):
            if schema.get(key):
                return self.example(schema[key][0], name, depth + 1)
        return self._typed(schema, name, depth)

    def _typed(self, schema: Mapping[str, Any], name: str, depth: int) -> Any:
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object" or (kind is None and "properties" in schema):
            props = schema.get("properties", {})
            return {k: self.example(v, k, depth + 1) for k, v in props.items()}
        if kind == "array":
            count = max(1, min(int(schema.get("minItems", 1)), 3))
            return [self.example(schema.get("items", {}), name, depth + 1) for _ in range(count)]
        if kind == "integer":
            low = int(schema.get("minimum", 1))
            return self.rng.randint(low, max(low, int(schema.get("maximum", low + 999))))
        if kind == "number":
            floor = float(schema.get("minimum", 0))
            return round(self.rng.uniform(floor, float(schema.get("maximum", floor + 1000))), 2)
        if kind == "boolean":
            return True
        if kind == "string":
            return self._string(schema, name)
        return None

    def _string(self, schema: Mapping[str, Any], name: str) -> str:
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2026-01-01T09:00:00Z"
        if fmt == "date":
            return "2026-01-01"
        if fmt == "uuid":
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        if fmt == "email":
            return f"{name}@example.com"
        if fmt in ("uri", "url"):
            return f"https://example.com/{name}"
        text = f"{name}-{self.rng.randint(1000, 9999)}"
        low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", 64))
        return (text + "x" * max(0, low - len(text)))[: max(high, low, 1)]


def _has_array(body: Any) -> bool:
    if isinstance(body, list):
        return True
    return isinstance(body, dict) and any(isinstance(v, list) for v in body.values())


def _field_names(body: Any) -> list[str]:
    """Every key in the body, outermost first: what a schema drift can rename."""
    names: list[str] = []
    stack = [body]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            names.extend(k for k in node if k not in names)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return names
