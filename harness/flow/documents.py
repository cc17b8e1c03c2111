"""Flow documents as the Flow API carries them: one canonical text, content and references.

A flow file in git, the body of ``PUT /api/v2/flow/flows/{flowId}`` and what the tenant
serves back are the same JSON document. So that a pulled folder is byte-stable and a
read-back can be compared, there is one canonical text: sorted keys, two-space indent,
UTF-8 unescaped, one trailing newline. ``version`` is the platform's counter of deployed
versions, so two documents have the same *content* when they are equal without it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from harness.flow.model import resolve_flow_ref

__all__ = ["canonical_text", "content_of", "same_content", "subflow_refs", "text_differences"]


def canonical_text(document: Mapping[str, Any]) -> str:
    """The one text of a flow document: sorted keys, indent 2, unescaped UTF-8, newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def content_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document without its ``version``: what a deployment changes."""
    return {k: v for k, v in document.items() if k != "version"}


def same_content(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal documents, whatever their version numbers."""
    return content_of(a) == content_of(b)


def subflow_refs(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(step id, called flow id) of every SubFlow step, `{{var}}` ids resolved through the
    document's variable defaults as at deploy time."""
    variables = document.get("variables")
    defaults = variables if isinstance(variables, Mapping) else {}
    found = []
    for step in document.get("steps") or ():
        if isinstance(step, Mapping) and step.get("type") == "SubFlow":
            config = step.get("configuration")
            ref = config.get("flowId", "") if isinstance(config, Mapping) else ""
            found.append((str(step.get("id", "")), resolve_flow_ref(str(ref), defaults)))
    return found


def text_differences(old: Mapping[str, Any], new: Mapping[str, Any], limit: int = 20) -> list[str]:
    """JSON pointers where the two documents differ (``version`` aside), at most ``limit``."""
    found: list[str] = []
    for pointer in _walk(content_of(old), content_of(new), ""):
        found.append(pointer)
        if len(found) >= limit:
            break
    return found


def _walk(old: Any, new: Any, pointer: str) -> Iterator[str]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new)):
            here = f"{pointer}/{_escape(str(key))}"
            if key not in old or key not in new:
                yield here
            else:
                yield from _walk(old[key], new[key], here)
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            if index >= len(old) or index >= len(new):
                yield f"{pointer}/{index}"  # an item added or removed at the end
            else:
                yield from _walk(old[index], new[index], f"{pointer}/{index}")
    elif old != new or type(old) is not type(new):
        yield pointer or "/"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")
