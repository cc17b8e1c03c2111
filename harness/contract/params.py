"""Parameter values of a rendered request, as the operation's schemas see them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from harness.flow.model import Step

__all__ = ["auth_supplies", "coerce", "param_value"]


def param_value(
    location: str,
    name: str,
    query: Mapping[str, list[str]],
    segments: list[str],
    indexes: Mapping[str, int],
    headers: Mapping[str, Any],
) -> str | None:
    if location == "query":
        return query[name][0] if name in query else None
    if location == "path":
        index = indexes.get(name)
        return segments[index] if index is not None and index < len(segments) else None
    if location == "header":
        raw = headers.get(name.lower())
        return None if raw is None else str(raw)
    return None


def auth_supplies(step: Step, name: str, location: str) -> bool:
    auth = step.config.get("authentication") or {}
    header = str(auth.get("headerName", "")).lower() if isinstance(auth, dict) else ""
    return location == "header" and name.lower() in {header, "authorization"}


def coerce(schema: Mapping[str, Any], value: str) -> Any:
    """A parameter's text as the type its schema names (invalid text stays text)."""
    kind = schema.get("type")
    try:
        if kind == "integer" and re.fullmatch(r"-?\d+", value):
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    if kind == "array":
        return value.split(",")
    return value
