"""Local ``$ref`` resolution inside one document, cycle-safe.

Only same-document references (``#/...``) are followed; an external or circular one
resolves to None, which callers report as 'unsupported'.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

__all__ = ["locate", "resolve_ref"]


def resolve_ref(document: Any, pointer: str, *, _depth: int = 0) -> Any:
    """The node at a local ``#/...`` pointer, following ``$ref`` chains (cycle-safe).

    Returns None for anything missing, external or circular.
    """
    if _depth > 32:
        return None
    node = _walk(document, pointer, _depth)
    seen: set[str] = {pointer}
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#") or ref in seen or len(seen) > 32:
            return None
        seen.add(ref)
        node = _walk(document, ref, _depth)
    return node


def locate(document: Any, pointer: str) -> str:
    """Where the node at ``pointer`` really lives: each ``$ref`` passed on the way is
    followed, so ``#/paths/~1a/get/parameters/0/schema`` through ``{$ref:
    '#/components/parameters/Id'}`` is ``#/components/parameters/Id/schema``, a pointer a
    JSON Schema validator can resolve. ``pointer`` itself when it cannot be walked."""
    text = pointer.removeprefix("#")
    if not text.startswith("/"):
        return pointer
    node, at, hops = document, "#", 0
    for raw in text.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and token not in node:
            ref = node["$ref"]
            hops += 1
            if not ref.startswith("#") or hops > 32:
                return pointer
            node, at = resolve_ref(document, ref), ref
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return pointer
        at = f"{at}/{raw}"
    return at


def _walk(document: Any, pointer: str, depth: int) -> Any:
    """Walk ``#/a/b`` step by step, following ``$ref`` on the way (not at the end)."""
    node = document
    text = pointer.removeprefix("#")
    if not text:
        return node
    if not text.startswith("/"):
        return None  # a plain-name fragment ($anchor): not supported
    for raw in text.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and isinstance(node.get("$ref"), str) and token not in node:
            node = resolve_ref(document, node["$ref"], _depth=depth + 1)
        if isinstance(node, dict):
            node = node[token] if token in node else node.get(unquote(token))
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node
