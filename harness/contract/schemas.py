"""Schemas inside a spec: validation with the right draft, and JSONPath walks.

OpenAPI 3.0 and Swagger 2.0 schemas are validated with Draft 4 semantics after turning
``nullable: true`` (``x-nullable``) into a ``null`` type; 3.1 schemas are JSON Schema
2020-12. ``$ref`` is resolved inside the spec document only; anything the validator cannot
understand (an external ``$ref``, an unknown type, a broken regex) is reported as
:class:`Unsupported` rather than raised, because real-world specs are full of such gaps.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
from referencing.jsonschema import DRAFT4, DRAFT202012

from harness.contract.openapi import Spec, escape, resolve_ref
from harness.contract.refs import locate

__all__ = [
    "PathWalk",
    "Unsupported",
    "media_schema",
    "parse_jsonpath",
    "validate",
    "walk_jsonpath",
]

_URI = "urn:ivr-harness:spec"
_MAX_ALTERNATIVES = 64


# Every format jsonschema can check (uuid, date, email, ipv4, ...) for every draft, plus
# date-time, whose own checker needs an optional package.
_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value
    ):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    datetime.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


class Unsupported(Exception):
    """The spec uses something this checker cannot evaluate; reported, never fatal."""


def validation_document(spec: Spec) -> Any:
    """The spec with 3.0/2.0 ``nullable`` rewritten as JSON Schema (cached per spec)."""
    cached = _DOCS.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    document = spec.document if spec.version == "3.1" else _denull(spec.document, 0)
    if len(_DOCS) > 32:  # the cache only has to outlive one consumer pass
        _DOCS.clear()
    _DOCS[id(spec)] = (spec, document)
    return document


_DOCS: dict[int, tuple[Spec, Any]] = {}


def _denull(node: Any, depth: int) -> Any:
    if depth > 200:
        return node
    if isinstance(node, list):
        return [_denull(v, depth + 1) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _denull(v, depth + 1) for k, v in node.items()}
    if out.get("nullable") is True or out.get("x-nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def validate(
    spec: Spec, pointer: str | Mapping[str, Any], instance: Any, *, formats: bool = False
) -> list[str]:
    """Messages for every way ``instance`` breaks a schema ([] when valid).

    ``pointer`` locates the schema in the spec, or is an inline schema whose ``$ref``s point
    into the spec. With ``formats``, ``format`` is asserted too (uuid, date-time, email,
    ...: jsonschema's FormatChecker). Raises :class:`Unsupported` when the schema cannot be
    evaluated.
    """
    document = validation_document(spec)
    if isinstance(pointer, str):
        root = {"$ref": f"{_URI}{locate(spec.document, pointer)}"}
    else:
        root = _rooted(pointer)
    draft = DRAFT202012 if spec.version == "3.1" else DRAFT4
    cls = jsonschema.Draft202012Validator if spec.version == "3.1" else jsonschema.Draft4Validator
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        _URI, draft.create_resource(document)
    )
    checker = _FORMATS if formats else None
    validator = cls(root, registry=registry, format_checker=checker)
    try:
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [_describe(e) for e in errors[:5]]
    except (referencing.exceptions.Unresolvable, jsonschema.exceptions.UnknownType) as exc:
        raise Unsupported(
            f"cannot resolve or evaluate schema at {pointer}: {_short(str(exc))}"
        ) from None
    except (re.error, RecursionError, TypeError, ValueError, KeyError, AttributeError) as exc:
        # A malformed schema (bad regex, a string where an object belongs) fails deep
        # inside jsonschema; the spec is what is wrong, so this is reported, not raised.
        raise Unsupported(f"schema at {pointer} is malformed: {type(exc).__name__}") from None


def _short(text: str) -> str:
    """One line of an exception text (referencing prints the whole document)."""
    line = text.splitlines()[0] if text else ""
    cut = line.find(" does not exist within ")
    line = line[: cut + len(" does not exist")] if cut >= 0 else line
    return line if len(line) <= 200 else line[:197] + "..."


def _rooted(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An inline schema with its local ``#/...`` refs pointed at the spec resource."""
    if spec_ref := schema.get("$ref"):
        return {"$ref": f"{_URI}{spec_ref}"} if str(spec_ref).startswith("#") else dict(schema)
    out = dict(schema)
    if isinstance(out.get("items"), dict):
        out["items"] = _rooted(out["items"])
    return out


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(escape(str(p)) for p in error.absolute_path)
    message = error.message if len(error.message) < 200 else error.message[:197] + "..."
    return f"/{where}: {message}" if where else message


def media_schema(spec: Spec, response_pointer: str) -> tuple[str | None, str]:
    """The JSON schema pointer of a response (None when it documents no JSON body) and why."""
    response = resolve_ref(spec.document, response_pointer)
    if not isinstance(response, dict):
        return None, "response is not an object (or an unresolvable $ref)"
    if spec.version == "2.0":
        return (f"{response_pointer}/schema", "") if "schema" in response else (None, "no schema")
    content = response.get("content")
    if not isinstance(content, dict) or not content:
        return None, "documents no response body"
    for media in sorted(content, key=_json_first):
        item = content[media]
        if isinstance(item, dict) and "schema" in item:
            return f"{response_pointer}/content/{escape(media)}/schema", ""
    return None, "documents no schema for its body"


def _json_first(media: str) -> tuple[int, str]:
    lowered = media.lower()
    rank = 0 if lowered.startswith("application/json") else 1 if "json" in lowered else 2
    return rank, lowered


# --- JSONPath walks --------------------------------------------------------------------

_SEGMENT = re.compile(
    r"""\.(?P<name>[A-Za-z_][\w-]*)|\.\*|\[\*\]|\[(?P<idx>-?\d+)\]"""
    r"""|\[(?P<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]"""
)


def parse_jsonpath(path: str) -> list[str | int] | None:
    """Segments of a simple RFC 9535 path: names, indexes, ``*`` (as ``-1``...).

    Returns None for paths with filters, slices or descendant segments.
    """
    text = path.strip()
    if not text.startswith("$"):
        return None
    segments: list[str | int] = []
    pos = 1
    while pos < len(text):
        match = _SEGMENT.match(text, pos)
        if match is None:
            return None
        if match.group("name"):
            segments.append(match.group("name"))
        elif match.group("idx") is not None:
            segments.append(int(match.group("idx")))
        elif match.group("quoted"):
            segments.append(match.group("quoted")[1:-1])
        else:
            segments.append(-(10**9))  # wildcard: walks like an index into arrays
        pos = match.end()
    return segments


@dataclass(frozen=True, slots=True, kw_only=True)
class PathWalk:
    """Where a JSONPath ends in a schema.

    ``found`` True: every segment is documented (or the schema leaves that part open).
    False: ``missing_at`` is the schema that lacks ``segment``.
    """

    found: bool
    segment: str = ""
    missing_at: str = ""
    open_at: str = ""
    ends_at: tuple[str, ...] = ()
    """The schemas the whole path reaches (when found through documented fields)."""


def walk_jsonpath(spec: Spec, schema_pointer: str, segments: list[str | int]) -> PathWalk:
    """Follow ``segments`` through properties/items/allOf/oneOf/anyOf/$ref.

    A segment exists when at least one alternative documents it.
    """
    current = [schema_pointer]
    for segment in segments:
        following: list[str] = []
        open_at = ""
        for pointer in current:
            for alt in _alternatives(spec, pointer, 0):
                step, is_open = _step(spec, alt, segment)
                following.extend(step)
                open_at = open_at or (alt if is_open else "")
        if open_at and not following:
            return PathWalk(found=True, open_at=open_at, segment=_show(segment))
        if not following:
            return PathWalk(found=False, segment=_show(segment), missing_at=current[0])
        current = following[:_MAX_ALTERNATIVES]
    return PathWalk(found=True, ends_at=tuple(current))


def _show(segment: str | int) -> str:
    if isinstance(segment, int):
        return "[*]" if segment < -(10**8) else f"[{segment}]"
    return segment


def _alternatives(spec: Spec, pointer: str, depth: int) -> Iterator[str]:
    """The pointer itself plus every allOf/oneOf/anyOf branch under it, $refs followed."""
    node = resolve_ref(spec.document, pointer)
    target = _ref_target(spec, pointer)
    yield target
    if depth > 8 or not isinstance(node, dict):
        return
    for keyword in ("allOf", "oneOf", "anyOf"):
        branches = node.get(keyword)
        if isinstance(branches, list):
            for i in range(len(branches)):
                yield from _alternatives(spec, f"{target}/{keyword}/{i}", depth + 1)


def _ref_target(spec: Spec, pointer: str) -> str:
    """The pointer a chain of ``$ref`` at ``pointer`` ends at (for readable messages)."""
    seen = {pointer}
    node = resolve_ref(spec.document, pointer + "/$ref")
    while isinstance(node, str) and node.startswith("#") and node not in seen:
        seen.add(node)
        pointer = node
        node = resolve_ref(spec.document, pointer + "/$ref")
    return pointer


def _step(spec: Spec, pointer: str, segment: str | int) -> tuple[list[str], bool]:
    node = resolve_ref(spec.document, pointer)
    if not isinstance(node, dict):
        return [], node is True or node is None
    kinds = _types(node)
    if isinstance(segment, str):
        return _property(node, pointer, segment, kinds)
    return _item(node, pointer, segment, kinds)


def _types(node: Mapping[str, Any]) -> set[str]:
    raw = node.get("type")
    if isinstance(raw, str):
        return {raw}
    if isinstance(raw, list):
        return {str(t) for t in raw}
    return set()


def _property(
    node: Mapping[str, Any], pointer: str, name: str, kinds: set[str]
) -> tuple[list[str], bool]:
    props = node.get("properties")
    if isinstance(props, dict) and name in props:
        return [f"{pointer}/properties/{escape(name)}"], False
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return [f"{pointer}/additionalProperties"], False
    if kinds and "object" not in kinds:
        return [], False
    # No declared fields at all: the schema leaves the object open, so nothing can be
    # said about this name. Declared fields without it: the mapping reads an
    # undocumented field (the drift the gate is for).
    combinators = any(k in node for k in ("allOf", "oneOf", "anyOf"))
    return [], not isinstance(props, dict) and extra is not False and not combinators


def _item(
    node: Mapping[str, Any], pointer: str, index: int, kinds: set[str]
) -> tuple[list[str], bool]:
    prefix = node.get("prefixItems")
    if isinstance(prefix, list) and 0 <= index < len(prefix):
        return [f"{pointer}/prefixItems/{index}"], False
    items = node.get("items")
    if isinstance(items, dict):
        return [f"{pointer}/items"], False
    if isinstance(items, list) and 0 <= index < len(items):  # draft 4 tuple form
        return [f"{pointer}/items/{index}"], False
    if kinds and "array" not in kinds:
        return [], False
    return [], "items" not in node and not any(k in node for k in ("allOf", "oneOf", "anyOf"))
