"""Size bounds of a flow document, checked when it is loaded, before anything renders it.

Every string of a step is a template, and every consumer renders it: the executor once
per call, the contract check once per drawn example (hundreds), the lint per rule. A URL
of 200,000 ``{{a}}`` (a 1 MB flow, under the input cap) kept the gate busy for nine
minutes though each pass was linear. So a string may hold at most
:data:`MAX_PLACEHOLDERS` placeholders (real bodies hold tens); past that the flow is
refused with its file and JSON pointer (exit 2). Expressions and JSONPaths carry their
own bounds where they are parsed (:mod:`harness.flow.expr`).

Flow and step ids become names elsewhere: of Toxiproxy proxies (the battery names its
runs after them), of folders (``mutate`` writes each mutant under its id), of reports.
One with ``/`` or ``\\`` in it, a control character, or ``.``/``..`` broke every battery
run ("404 page not found" from the proxy API) and could write outside a folder, so it is
refused here, where it is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.flow.expr import count_placeholders

__all__ = ["MAX_PLACEHOLDERS", "check_bounds", "name_problem"]

MAX_PLACEHOLDERS = 1000
"""Most ``{{ }}`` placeholders in one string of a flow."""


def check_bounds(document: Any, file: Path | None = None) -> None:
    """Refuse a flow document past the bounds (a ConfigError naming the pointer)."""
    if not isinstance(document, dict):
        return
    steps = document.get("steps")
    _check_name(document.get("id"), "flow id", file, "/id")
    for index, step in enumerate(steps if isinstance(steps, list) else []):
        if isinstance(step, dict):
            _check_name(step.get("id"), "step id", file, f"/steps/{index}/id")
    for pointer, text in _strings(steps, "/steps"):
        if count_placeholders(text, MAX_PLACEHOLDERS + 1) > MAX_PLACEHOLDERS:
            raise ConfigError(
                f"more than {MAX_PLACEHOLDERS} {{{{ }}}} placeholders in one string",
                file=file,
                pointer=pointer,
                hint="no request needs this many; is the flow generated?",
            )


def name_problem(name: str) -> str:
    """Why ``name`` cannot become a proxy name or a folder name ('' when it can)."""
    bad = next((c for c in name if c in "/\\" or ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        return f"it contains {bad!r}"
    return "it is a dot segment" if name in (".", "..") else ""


def _check_name(name: Any, what: str, file: Path | None, pointer: str) -> None:
    problem = name_problem(name) if isinstance(name, str) else ""
    if problem:
        raise ConfigError(
            f"{what} {name!r} cannot be used: {problem}",
            file=file,
            pointer=pointer,
            hint="ids name proxies and folders; use letters, digits, '.', '_' and '-'",
        )


def _strings(node: Any, pointer: str) -> Iterator[tuple[str, str]]:
    stack = [(node, pointer)]
    while stack:
        current, at = stack.pop()
        if isinstance(current, str):
            yield at, current
        elif isinstance(current, dict):
            stack.extend((v, f"{at}/{_token(k)}") for k, v in current.items())
        elif isinstance(current, list):
            stack.extend((v, f"{at}/{i}") for i, v in enumerate(current))


def _token(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")
