"""Where a flow holds expressions and templates, with their JSON pointers, and their trees."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from harness.flow.expr import (
    ExpressionError,
    Node,
    children,
    mask_placeholders,
    parse,
    placeholders,
)
from harness.flow.lint.context import strings
from harness.flow.model import Flow, Step

__all__ = ["Site", "sites", "trees", "walk"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """One string of a step; ``kind`` is expression | mapping | url | body | template."""

    step: Step
    pointer: str
    text: str
    kind: str
    name: str = ""


def sites(flow: Flow) -> Iterator[Site]:
    """Every expression or template string of every step of ``flow``."""
    for step in flow.steps:
        yield from _step_sites(step)


def _step_sites(step: Step) -> Iterator[Site]:
    cfg, base = step.config, f"{step.pointer}/configuration"
    if step.type == "Condition":
        for i, branch in enumerate(cfg.get("conditions", [])):
            text = str(branch.get("expression", ""))
            yield Site(
                step=step, pointer=f"{base}/conditions/{i}/expression", text=text, kind="expression"
            )
        return
    if step.type == "DataAPI" and cfg.get("operation") == "evaluate":
        yield Site(
            step=step,
            pointer=f"{base}/expression",
            text=str(cfg.get("expression", "")),
            kind="expression",
        )
    mapping = cfg.get("responseMapping") if step.type == "HTTPRequest" else None
    for pointer, text in strings(cfg, base):
        relative = pointer[len(base) + 1 :]
        if relative == "expression" and step.type == "DataAPI":
            continue
        if relative.startswith("responseMapping/") and isinstance(mapping, Mapping):
            name = relative.split("/", 1)[1]
            yield Site(step=step, pointer=pointer, text=text, kind="mapping", name=name)
        elif step.type == "HTTPRequest" and relative in ("url", "body"):
            yield Site(step=step, pointer=pointer, text=text, kind=relative)
        elif placeholders(text):
            kind = "body" if relative.startswith("body/") else "template"
            yield Site(step=step, pointer=pointer, text=text, kind=kind)


def trees(site: Site) -> list[Node]:
    """Syntax trees of the site: its placeholders' expressions, and for expressions and
    mappings the whole text (read with quoted placeholders as strings, others as null)."""
    found: list[Node] = []
    for placeholder in placeholders(site.text):
        found.extend(_parse(placeholder.expr))
    if site.kind in ("expression", "mapping"):
        found.extend(_parse(site.text) or _parse(mask_placeholders(site.text, "null")))
    return found


def _parse(text: str) -> list[Node]:
    try:
        return [parse(text.strip())]
    except ExpressionError:
        return []


def walk(node: Node) -> Iterator[Node]:
    """Every node of a tree, parents first."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))
