"""Tolerant loading of OpenAPI 3.0 / 3.1 and Swagger 2.0 documents.

A spec is read once into a :class:`Spec`: its servers, and one :class:`Operation` per
method of each path, with every piece located by its JSON pointer so that findings can
name ``#/paths/~1v2~1accounts/get/responses/200/content/application~1json/schema``.

Only text that cannot be parsed at all (or is not an OpenAPI/Swagger object) raises
:class:`~harness.errors.ConfigError` (exit 2, file + pointer). Everything else a real-world
spec gets wrong or leaves out -- a dangling ``$ref``, a path item that is a list, a
response without a schema -- becomes an entry of :attr:`Spec.unsupported` and is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.contract.refs import resolve_ref
from harness.openapi_file import OpenApiFile, load_openapi, parse_openapi

__all__ = [
    "METHODS",
    "Operation",
    "Parameter",
    "Server",
    "Spec",
    "escape",
    "load_spec",
    "parse_spec",
    "resolve_ref",
]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def escape(token: str) -> str:
    """One RFC 6901 reference token."""
    return token.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True, slots=True, kw_only=True)
class Server:
    """A server URL: its host (None when relative or templated) and base path."""

    url: str
    host: str | None
    base_path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Parameter:
    """A query, path or header parameter with its (unresolved) schema pointer."""

    name: str
    location: str
    required: bool
    schema_pointer: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """One method of one path; pointers are ``#/paths/...`` fragments into the spec."""

    method: str
    path: str
    pointer: str
    operation_id: str = ""
    parameters: tuple[Parameter, ...] = ()
    body_schemas: Mapping[str, str] = field(default_factory=dict)
    body_required: bool = False
    responses: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """A parsed OpenAPI/Swagger document; ``document`` is plain JSON data."""

    file: Path | None
    version: str
    title: str
    document: Mapping[str, Any]
    servers: tuple[Server, ...]
    operations: tuple[Operation, ...]
    unsupported: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.title or (self.file.name if self.file else "<spec>")

    def resolve(self, pointer: str) -> Any:
        """The node at ``#/...`` (None when absent); ``$ref`` chains are followed."""
        return resolve_ref(self.document, pointer)


def load_spec(path: Path) -> Spec:
    """Read and parse a spec file; unparseable input raises :class:`ConfigError`."""
    return _spec(load_openapi(path))


def parse_spec(text: str, *, file: Path | None = None) -> Spec:
    """Parse spec text (JSON or YAML) into a :class:`Spec`."""
    return _spec(parse_openapi(text, file=file))


def _spec(checked: OpenApiFile) -> Spec:
    # One reader with the stubs (harness.openapi_file): one verdict on one file.
    file, version, document = checked.file, checked.version, checked.document
    notes: list[str] = []
    servers = _servers(document, version, notes)
    operations = _operations(document, version, notes)
    info = document.get("info")
    title = str(info.get("title", "")) if isinstance(info, dict) else ""
    return Spec(
        file=file,
        version=version,
        title=title,
        document=document,
        servers=servers,
        operations=operations,
        unsupported=tuple(notes),
    )


def _servers(document: Mapping[str, Any], version: str, notes: list[str]) -> tuple[Server, ...]:
    if version == "2.0":
        host = document.get("host")
        base = str(document.get("basePath") or "")
        if isinstance(host, str) and host:
            return (Server(url=f"https://{host}{base}", host=host.split(":")[0], base_path=base),)
        return (Server(url=base, host=None, base_path=base),)
    raw = document.get("servers")
    if raw is None:
        return (Server(url="/", host=None, base_path=""),)
    if not isinstance(raw, list):
        notes.append("#/servers: not a list; servers ignored")
        return ()
    return tuple(_server(item, i, notes) for i, item in enumerate(raw) if isinstance(item, dict))


def _server(item: Mapping[str, Any], index: int, notes: list[str]) -> Server:
    url = str(item.get("url", ""))
    # Server variables are substituted with their defaults: a spec's usual real host.
    variables = item.get("variables") if isinstance(item.get("variables"), dict) else {}
    for name, var in (variables or {}).items():
        if isinstance(var, dict) and "default" in var:
            url = url.replace("{" + name + "}", str(var["default"]))
    if "{" in url:
        notes.append(f"#/servers/{index}: templated URL {url!r}; host not used for matching")
    try:
        parts = urlsplit(url)
    except ValueError:
        notes.append(f"#/servers/{index}: unparseable URL {url!r}")
        return Server(url=url, host=None, base_path="")
    host = parts.hostname if parts.netloc and "{" not in parts.netloc else None
    return Server(url=url, host=host, base_path=parts.path.rstrip("/"))


def _operations(
    document: Mapping[str, Any], version: str, notes: list[str]
) -> tuple[Operation, ...]:
    paths = document.get("paths")
    if not isinstance(paths, dict):
        if paths is not None or version != "3.1":
            notes.append("#/paths: missing or not an object; no operations")
        return ()
    found: list[Operation] = []
    for path in paths:
        pointer = f"#/paths/{escape(path)}"
        item = resolve_ref(document, pointer)
        if not isinstance(item, dict):
            notes.append(f"{pointer}: path item is not an object (or an unresolvable $ref)")
            continue
        shared = _parameters(document, item.get("parameters"), f"{pointer}/parameters", notes)
        for method in METHODS:
            if isinstance(item.get(method), dict):
                op = _operation(document, path, method, f"{pointer}/{method}", shared, notes)
                found.append(op)
    return tuple(found)


def _operation(
    document: Mapping[str, Any],
    path: str,
    method: str,
    pointer: str,
    shared: dict[tuple[str, str], Parameter],
    notes: list[str],
) -> Operation:
    raw = resolve_ref(document, pointer)
    if not isinstance(raw, dict):
        raw = {}
    own = _parameters(document, raw.get("parameters"), f"{pointer}/parameters", notes)
    params = {**shared, **own}
    bodies, required = _bodies(document, raw, pointer, params, notes)
    return Operation(
        method=method,
        path=path,
        pointer=pointer,
        operation_id=str(raw.get("operationId", "")),
        parameters=tuple(p for p in params.values() if p.location != "body"),
        body_schemas=bodies,
        body_required=required,
        responses=_responses(document, raw.get("responses"), pointer, notes),
    )


def _parameters(
    document: Mapping[str, Any], raw: Any, pointer: str, notes: list[str]
) -> dict[tuple[str, str], Parameter]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        notes.append(f"{pointer}: not a list; parameters ignored")
        return {}
    found: dict[tuple[str, str], Parameter] = {}
    for index in range(len(raw)):
        at = f"{pointer}/{index}"
        param = resolve_ref(document, at)
        if not isinstance(param, dict) or "name" not in param or "in" not in param:
            notes.append(f"{at}: parameter without name/in (or an unresolvable $ref)")
            continue
        schema_at = _param_schema(param, at)
        found[(str(param["name"]), str(param["in"]))] = Parameter(
            name=str(param["name"]),
            location=str(param["in"]),
            required=bool(param.get("required", False)) or param["in"] == "path",
            schema_pointer=schema_at,
        )
    return found


def _param_schema(param: Mapping[str, Any], at: str) -> str | None:
    # `at` may be a $ref'd parameter: point into it only through the referencing node.
    if "schema" in param:
        return f"{at}/schema"
    if "type" in param:  # Swagger 2.0 keeps the schema keywords on the parameter itself.
        return at
    return None


def _bodies(
    document: Mapping[str, Any],
    raw: Mapping[str, Any],
    pointer: str,
    params: dict[tuple[str, str], Parameter],
    notes: list[str],
) -> tuple[dict[str, str], bool]:
    for param in params.values():
        if param.location == "body" and param.schema_pointer:  # Swagger 2.0
            consumes = raw.get("consumes") or document.get("consumes") or ["application/json"]
            media = str(consumes[0]) if isinstance(consumes, list) and consumes else "*/*"
            return {media: param.schema_pointer}, param.required
    if "requestBody" not in raw:
        return {}, False
    at = f"{pointer}/requestBody"
    body = resolve_ref(document, at)
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, dict):
        notes.append(f"{at}: requestBody without content (or an unresolvable $ref)")
        return {}, False
    schemas = {
        media: f"{at}/content/{escape(media)}/schema"
        for media, item in content.items()
        if isinstance(item, dict) and "schema" in item
    }
    return schemas, bool(body.get("required", False))


def _responses(
    document: Mapping[str, Any], raw: Any, pointer: str, notes: list[str]
) -> dict[str, str]:
    if not isinstance(raw, dict):
        notes.append(f"{pointer}/responses: missing or not an object")
        return {}
    return {str(status): f"{pointer}/responses/{escape(str(status))}" for status in raw}
