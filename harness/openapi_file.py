"""The one reader of OpenAPI and Swagger files: the gate and the battery's stubs load here.

A spec is read through :mod:`harness.inputs` (size cap, strict UTF-8, depth cap, no
duplicate keys, a YAML alias budget, never a FIFO), decoded as JSON when it looks like
JSON and as YAML otherwise, and turned into plain JSON data (string keys, ISO dates, NaN
and infinity dropped; integers past 2**53 are kept, a spec may state a uint64 maximum).
It is accepted only when it declares a version we read (``openapi: 3.0.x``, ``3.1.x`` or
a later 3.x, ``swagger: "2.0"``) and its ``paths``, when present, are an object (only
3.1 may leave them out). Anything else is a :class:`~harness.errors.ConfigError` naming
the file and the pointer, so a spec the gate refuses is never served by a stub, and the
other way round.

Core module: it depends on nothing of ours but :mod:`harness.errors` and
:mod:`harness.inputs`.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.inputs import parse_json, parse_yaml, read_text

__all__ = ["MAX_NODES", "OpenApiFile", "load_openapi", "parse_openapi"]

MAX_NODES = 2_000_000
"""Most nodes a spec may hold once YAML aliases are expanded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenApiFile:
    """A spec as plain JSON data; ``version`` is ``"2.0"``, ``"3.0"`` or ``"3.1"``."""

    file: Path | None
    version: str
    document: dict[str, Any]


def load_openapi(path: Path) -> OpenApiFile:
    """Read and check the spec at ``path``; a :class:`ConfigError` when it is not one."""
    return parse_openapi(read_text(path, what="spec"), file=path)


def parse_openapi(text: str, *, file: Path | None = None) -> OpenApiFile:
    """Decode and check spec text (JSON or YAML)."""
    document = _normalise(_decode(text, file), file)
    if not isinstance(document, dict):
        raise ConfigError(
            "not an OpenAPI document (the top level is not an object)",
            file=file,
            hint="a spec starts with 'openapi: 3.x' or 'swagger: \"2.0\"'",
        )
    version = _version(document, file)
    paths = document.get("paths")
    if not isinstance(paths, dict) and (paths is not None or version != "3.1"):
        raise ConfigError(
            "'paths' is not an object" if paths is not None else "'paths' is missing",
            file=file,
            pointer="/paths",
            hint="paths maps each path template to its operations, e.g. '/v2/accounts: {get: ...}'",
        )
    return OpenApiFile(file=file, version=version, document=document)


def _decode(text: str, file: Path | None) -> Any:
    if text.lstrip().startswith(("{", "[")):
        return parse_json(
            text, file=file, hint="fix the syntax or export the spec again", interop_numbers=False
        )
    try:
        return parse_yaml(
            text, file=file, hint="fix the syntax", max_nodes=MAX_NODES, interop_numbers=False
        )
    except (ValueError, OverflowError) as exc:  # e.g. a timestamp past year 9999
        raise ConfigError(f"cannot parse YAML: {type(exc).__name__}", file=file) from None


def _normalise(node: Any, file: Path | None) -> Any:
    """Plain JSON data: string keys, ISO dates; a recursive alias is rejected."""
    budget = [MAX_NODES]
    try:
        return _plain(node, budget, set(), file)
    except RecursionError:
        raise ConfigError("spec is nested too deeply", file=file) from None


def _plain(node: Any, budget: list[int], active: set[int], file: Path | None) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError("spec expands to too many nodes (YAML alias bomb?)", file=file)
    if isinstance(node, dict | list):
        if id(node) in active:
            raise ConfigError("spec contains a recursive YAML alias", file=file)
        active.add(id(node))
        try:
            if isinstance(node, dict):
                return {str(k): _plain(v, budget, active, file) for k, v in node.items()}
            return [_plain(v, budget, active, file) for v in node]
        finally:
            active.discard(id(node))
    if isinstance(node, datetime.date | datetime.datetime):
        return node.isoformat()
    if isinstance(node, bytes):
        return node.decode("latin-1")
    if isinstance(node, float) and not math.isfinite(node):  # not JSON; keep it out of schemas
        return None
    return node


def _version(document: dict[str, Any], file: Path | None) -> str:
    raw = document.get("openapi", document.get("swagger"))
    text = str(raw) if raw is not None else ""
    if text.startswith("2"):
        return "2.0"
    if text.startswith("3.0"):
        return "3.0"
    if text.startswith("3."):
        return "3.1"  # 3.1 and later minor versions read alike
    raise ConfigError(
        f"unsupported or missing version {text!r}" if text else "not an OpenAPI document",
        file=file,
        pointer="/openapi" if "swagger" not in document else "/swagger",
        hint="expected 'openapi: 3.0.x', 'openapi: 3.1.x' or 'swagger: \"2.0\"'",
    )
