"""What a caller might key in at a CollectDigits step, read from the flows' own guards.

A guard says which input it lets through: `choice == '1'`, `patient_id.length == 7`,
`matches(patient_id, '^[0-9]{7}$')`, `amount >= 10 && amount <= 500`,
`validateE164(formatPhoneNumber(number))`. Candidates are drawn from those literals,
lengths, ranges and regular expressions (and from guards on variables computed from
the input), then from a few keys every menu uses. :mod:`harness.scenario.reach` tries
them against the real flow runner; nothing here decides what reaches a step.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from typing import Any

from harness.flow.expr import (
    Binary,
    Call,
    ExpressionError,
    Literal,
    Member,
    Node,
    Var,
    children,
    parse,
)
from harness.flow.model import FlowSet, Step

__all__ = ["candidates", "regex_examples"]

DTMF = "0123456789*#"
_COMPARE = frozenset({"==", "!=", "===", "!==", "<", "<=", ">", ">="})
_MENU_KEYS = ("1", "2", "0", "9", "3")
_PHONES = ("4155552671", "14155552671", "2125550123")
_DIGITS = "1234567890"
_MAX_LEN = 32


def candidates(step: Step, flows: FlowSet, scope: dict[str, Any] | None = None) -> list[str]:
    """Inputs worth trying at CollectDigits `step`, most promising first, no duplicates."""
    cfg = step.config
    variable = str(cfg.get("variable", ""))
    longest = int(cfg.get("maxDigits") or _MAX_LEN)
    shortest = int(cfg.get("minDigits") or 0)
    names = _derived_names(variable, flows)
    found: list[str] = []
    for expression in _guards(flows):
        found += _from_expression(expression, names, longest)
    found += _MENU_KEYS
    found += [_DIGITS[:n] for n in sorted({longest, min(longest, 10), 4, 7, 8})]
    found += _PHONES
    found += [str(v) for v in (scope or {}).values() if _keyable(v)]
    terminator = str(cfg.get("terminator") or "")
    out: list[str] = []
    for text in found:
        if terminator and terminator in text:
            text = text.split(terminator, 1)[0]
        if all(c in DTMF for c in text) and shortest <= len(text) <= longest and text not in out:
            out.append(text)
    return out


def _keyable(value: Any) -> bool:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return 0 < len(text) <= _MAX_LEN and text.isdigit()


def _guards(flows: FlowSet) -> Iterator[str]:
    """Every expression a call is routed or computed by, in the flows' order."""
    for flow in flows:
        for step in flow.steps:
            if step.type == "Condition":
                for branch in step.config.get("conditions", []):
                    yield str(branch.get("expression", ""))
            elif step.type == "DataAPI" and step.config.get("operation") == "evaluate":
                yield str(step.config.get("expression", ""))


def _derived_names(variable: str, flows: FlowSet) -> set[str]:
    """`variable` and every variable a DataAPI evaluate computes from it, transitively."""
    names = {variable}
    assignments = [
        (str(s.config.get("resultVariable", "")), str(s.config.get("expression", "")))
        for flow in flows
        for s in flow.steps
        if s.type == "DataAPI" and s.config.get("operation") == "evaluate"
    ]
    for _ in range(len(assignments)):
        grown = {target for target, expr in assignments if target and _mentions(expr, names)}
        if grown <= names:
            break
        names |= grown
    return names


def _mentions(expression: str, names: set[str]) -> bool:
    try:
        return any(isinstance(n, Var) and n.name in names for n in _walk(parse(expression)))
    except ExpressionError:
        return False


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in children(node):
        yield from _walk(child)


def _from_expression(expression: str, names: set[str], longest: int) -> list[str]:
    if "{{" in expression:
        expression = re.sub(r"\{\{(.*?)\}\}", r"\1", expression)
    try:
        root = parse(expression)
    except ExpressionError:
        return []
    found: list[str] = []
    for node in _walk(root):
        if isinstance(node, Binary) and node.op in _COMPARE:
            found += _compared(node.left, node.right, names, longest)
            found += _compared(node.right, node.left, names, longest)
        elif isinstance(node, Call) and _about(node, names):
            found += _called(node)
    return found


def _about(node: Node, names: set[str]) -> bool:
    return any(isinstance(n, Var) and n.name in names for n in _walk(node))


def _compared(side: Node, other: Node, names: set[str], longest: int) -> list[str]:
    if not isinstance(other, Literal) or not _about(side, names):
        return []
    value = other.value
    if isinstance(side, Member) and side.name == "length" and isinstance(value, int | float):
        n = int(value)
        return [_digits(k) for k in (n, n + 1, n - 1) if 0 < k <= longest]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        n = int(value)
        return [str(k) for k in (n, n + 1, n - 1) if k >= 0]
    return [str(value)]


def _digits(n: int) -> str:
    return (_DIGITS * (n // len(_DIGITS) + 1))[:n]


def _called(node: Call) -> list[str]:
    if node.name == "matches" and len(node.args) == 2 and isinstance(node.args[1], Literal):
        return regex_examples(str(node.args[1].value))
    if node.name in ("validateE164", "formatPhoneNumber"):
        return list(_PHONES)
    return []


def regex_examples(pattern: str, limit: int = 6) -> list[str]:
    """A few keypad strings `re.search(pattern, s)` accepts, shortest first: built from the
    pattern's own structure (deterministic and instant, where drawing from Hypothesis
    would cost a search per pattern and cannot run inside a Hypothesis test)."""
    try:
        compiled = re.compile(pattern)
        tree = re._parser.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return []
    options = _sequence(list(tree), limit)
    good = [s for s in options if compiled.search(s) is not None and len(s) <= _MAX_LEN]
    return sorted(dict.fromkeys(good), key=len)[:limit]


def _sequence(items: Sequence[Any], limit: int) -> list[str]:
    combos = [""]
    for item in items:
        parts = _item(item, limit)
        if not parts:
            return []
        combos = [a + b for a, b in itertools.islice(itertools.product(combos, parts), limit)]
    return combos


def _item(item: Any, limit: int) -> list[str]:
    op, arg = item
    name = str(op)
    if name == "LITERAL":
        return [chr(arg)]
    if name == "NOT_LITERAL":
        return [c for c in DTMF if ord(c) != arg][:2]
    if name == "ANY":
        return ["1"]
    if name == "IN":
        return [c for c in DTMF if _in_set(c, arg)][:2]
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, high, sub = arg
        inner = _sequence(list(sub), limit)
        counts = [n for n in (low, low + 1) if n <= high and n <= _MAX_LEN]
        return [s * n for n in counts for s in inner[:2]]
    if name in ("SUBPATTERN", "ATOMIC_GROUP"):
        return _sequence(list(arg[-1] if name == "SUBPATTERN" else arg), limit)
    if name == "BRANCH":
        return [s for alt in arg[1] for s in _sequence(list(alt), limit)][:limit]
    if name in ("AT", "ASSERT", "ASSERT_NOT"):
        return [""]
    return []  # back-references and the like: no keypad example


def _in_set(char: str, items: Sequence[Any]) -> bool:
    negate = False
    hit = False
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            hit = hit or ord(char) == arg
        elif name == "RANGE":
            hit = hit or arg[0] <= ord(char) <= arg[1]
        elif name == "CATEGORY":
            kind = str(arg)
            if kind == "CATEGORY_DIGIT":
                hit = hit or char.isdigit()
            elif kind == "CATEGORY_NOT_DIGIT":
                hit = hit or not char.isdigit()
            elif kind == "CATEGORY_WORD":
                hit = hit or char.isalnum()
    return hit != negate
