"""Expression and template rules: IVR006-IVR010."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from harness.flow.expr import (
    Binary,
    Call,
    Conditional,
    ExpressionError,
    Index,
    JsonPath,
    Literal,
    Logical,
    Member,
    Node,
    Unary,
    Var,
    children,
    is_pure_jsonpath,
    parse,
    placeholders,
)
from harness.flow.lint.context import Issue, LintContext
from harness.flow.lint.router import router_of
from harness.flow.lint.sites import sites, trees, walk
from harness.flow.model import Flow, Step

__all__ = [
    "check_injection",
    "check_mapping_jsonpath",
    "check_unencoded_url",
    "check_unformatted_validation",
    "check_unguarded_index",
]

_PATH_INDEX = re.compile(r"\[\s*-?\d+\s*\]")


def check_unguarded_index(ctx: LintContext) -> Iterator[Issue]:
    """IVR006: an array index (``[0]``) read without a length/null guard."""
    for flow in ctx.flows:
        for site in sites(flow):
            if site.kind == "mapping" and _router_checks_null(flow, site.step, site.name):
                continue  # `$.slots[0].id` is null on [], and the router tests for that null
            hits = sorted({text for tree in trees(site) for text in _unguarded(tree, False)})
            if hits:
                label = f"mapping '{site.name}'" if site.name else site.kind
                yield ctx.issue(
                    "IVR006",
                    flow,
                    site.step,
                    site.pointer,
                    f"{label} reads {', '.join(hits)} with no null guard: an empty array fails",
                )


def _unguarded(node: Node, guarded: bool) -> Iterator[str]:
    if isinstance(node, Conditional):
        yield from _unguarded(node.test, guarded)
        yield from _unguarded(node.then, guarded or _is_guard(node.test))
        yield from _unguarded(node.otherwise, guarded)
        return
    if isinstance(node, Logical) and node.op == "&&":
        yield from _unguarded(node.left, guarded)
        yield from _unguarded(node.right, guarded or _is_guard(node.left))
        return
    if not guarded:
        if isinstance(node, JsonPath) and _PATH_INDEX.search(node.path):
            yield node.path
        elif isinstance(node, Index) and isinstance(node.key, Literal):
            yield f"[{node.key.value}]"
    for child in children(node):
        yield from _unguarded(child, guarded)


def _router_checks_null(flow: Flow, http: Step, name: str) -> bool:
    """Whether the Condition after `http` tests the mapped variable `name` for null (or
    falsiness) in one of its conditions, before anything uses it: the executor maps `[0]`
    of an empty array to null, and the router is where a flow guards that null."""
    router = router_of(flow, http)
    if router is None:
        return False
    for branch in router.config.get("conditions", []):
        try:
            tree = parse(str(branch.get("expression", "")))
        except ExpressionError:
            continue
        if any(_null_test(node, name) for node in walk(tree)):
            return True
    return False


def _null_test(node: Node, name: str) -> bool:
    def is_var(n: Node) -> bool:
        return isinstance(n, Var) and n.name == name

    if isinstance(node, Binary) and node.op in ("!=", "!==", "==", "==="):
        null = (isinstance(node.right, Literal) and node.right.value is None) or (
            isinstance(node.left, Literal) and node.left.value is None
        )
        return null and (is_var(node.left) or is_var(node.right))
    if isinstance(node, Unary) and node.op == "!":
        return is_var(node.operand)
    if isinstance(node, Logical):
        return is_var(node.left) or is_var(node.right)
    return False


def _is_guard(test: Node) -> bool:
    """A test that checks a length or compares with null guards what it protects."""
    for node in walk(test):
        if isinstance(node, Member) and node.name == "length":
            return True
        if (
            isinstance(node, Binary)
            and node.op in ("!=", "!==")
            and (isinstance(node.right, Literal) and node.right.value is None)
        ):
            return True
    return False


def check_unencoded_url(ctx: LintContext) -> Iterator[Issue]:
    """IVR007: a placeholder in a URL's path or query not wrapped in encodeUriComponent.

    Exempt: a variable only ``CollectDigits`` sets, with ``#`` as its terminator -- it can
    hold only 0-9 and ``*``, which a URL carries as they are.
    """
    keys = _keypad_only(ctx.flows)
    for flow in ctx.flows:
        for site in sites(flow):
            if site.kind != "url":
                continue
            start = _authority_end(site.text)
            for placeholder in placeholders(site.text):
                safe = placeholder.expr.strip() in keys
                if placeholder.start >= start and not safe and not _encoded(placeholder.expr):
                    yield ctx.issue(
                        "IVR007",
                        flow,
                        site.step,
                        site.pointer,
                        f"'{{{{{placeholder.expr}}}}}' goes into the URL unencoded",
                    )


def _keypad_only(flows: Any) -> set[str]:
    """Variables set only by CollectDigits steps whose terminator is '#'."""
    keypad: set[str] = set()
    other: set[str] = set()
    for flow in flows:
        other.update(k for k, v in flow.variables.items() if v is not None)
        for step in flow.steps:
            cfg = step.config
            if step.type == "CollectDigits":
                (keypad if cfg.get("terminator") == "#" else other).add(str(cfg.get("variable")))
                continue
            other.update(str(cfg[k]) for k in ("resultVariable", "variable") if k in cfg)
            mapping = cfg.get("responseMapping")
            other.update(mapping if isinstance(mapping, dict) else ())
    return keypad - other


def _authority_end(url: str) -> int:
    # Placeholders in scheme and host are deployment settings, not caller data.
    scheme = url.find("://")
    if scheme < 0:
        return 0
    rest = [i for i in (url.find(c, scheme + 3) for c in "/?#") if i >= 0]
    return min(rest) if rest else len(url)


def _encoded(expr: str) -> bool:
    try:
        tree = parse(expr)
    except ExpressionError:
        return False
    return isinstance(tree, Call) and tree.name == "encodeUriComponent"


def check_injection(ctx: LintContext) -> Iterator[Issue]:
    """IVR008: placeholders inside a JSON body string, or quoted inside an expression."""
    for flow in ctx.flows:
        for site in sites(flow):
            found = placeholders(site.text)
            if site.kind == "body" and site.pointer.endswith("/body") and found:
                names = ", ".join(f"{{{{{p.expr}}}}}" for p in found)
                yield ctx.issue(
                    "IVR008",
                    flow,
                    site.step,
                    site.pointer,
                    f"the JSON body is a string with {names} pasted in as text",
                )
            elif site.kind in ("expression", "mapping"):
                quoted = sorted({p.expr for p in found if p.in_quotes})
                if quoted:
                    names = ", ".join(f"'{{{{{q}}}}}'" for q in quoted)
                    yield ctx.issue(
                        "IVR008",
                        flow,
                        site.step,
                        site.pointer,
                        f"{names} quoted inside an expression: a quote in the value breaks out",
                    )


def check_mapping_jsonpath(ctx: LintContext) -> Iterator[Issue]:
    """IVR009: a responseMapping that computes (an operator over a path), not extracts."""
    for flow in ctx.flows:
        for site in sites(flow):
            if site.kind != "mapping" or is_pure_jsonpath(site.text):
                continue
            try:
                tree = parse(site.text.strip())
            except ExpressionError:
                continue
            if isinstance(tree, Binary | Unary):
                yield ctx.issue(
                    "IVR009",
                    flow,
                    site.step,
                    site.pointer,
                    f"mapping '{site.name}' applies '{tree.op}' to a JSONPath; the platform maps "
                    "JSONPath only",
                )


def check_unformatted_validation(ctx: LintContext) -> Iterator[Issue]:
    """IVR010: validateE164 applied to raw input rather than a formatPhoneNumber result."""
    for flow in ctx.flows:
        for site in sites(flow):
            if site.kind != "expression":
                continue
            raw = sorted({v for t in trees(site) for v in _validated_vars(t) if _raw(flow, v)})
            if raw:
                yield ctx.issue(
                    "IVR010",
                    flow,
                    site.step,
                    site.pointer,
                    f"validateE164 checks raw input {', '.join(raw)}, not the formatted number",
                )


def _validated_vars(tree: Node) -> Iterator[str]:
    for node in walk(tree):
        if isinstance(node, Call) and node.name == "validateE164" and node.args:
            arg = node.args[0]
            if isinstance(arg, Var):
                yield arg.name
            elif isinstance(arg, Literal) and isinstance(arg.value, str):
                for placeholder in placeholders(arg.value):
                    yield from (n.name for n in walk(_safe(placeholder.expr)) if isinstance(n, Var))


def _safe(expr: str) -> Node:
    try:
        return parse(expr)
    except ExpressionError:
        return Literal(None)


def _raw(flow: Flow, name: str, depth: int = 0) -> bool:
    """Whether ``name`` can hold caller digits that no formatPhoneNumber call has seen."""
    for step in flow.steps:
        cfg = step.config
        if step.type == "CollectDigits" and cfg.get("variable") == name:
            return True
        if step.type == "DataAPI" and cfg.get("resultVariable") == name and depth < 5:
            expression = str(cfg.get("expression", ""))
            if "formatPhoneNumber" in expression:
                continue
            tree = _safe(expression)
            if isinstance(tree, Var) and _raw(flow, tree.name, depth + 1):
                return True
    return False
