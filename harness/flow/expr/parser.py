"""Pratt parser of the expression language (private; see :mod:`harness.flow.expr`)."""

from __future__ import annotations

import copy
import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, NoReturn

from harness.errors import did_you_mean
from harness.flow.expr.core import ExpressionError
from harness.flow.expr.functions import FUNCTIONS
from harness.flow.expr.jsonpath import check_path
from harness.flow.expr.lexer import Kind, Token, tokenize
from harness.flow.expr.nodes import (
    Binary,
    Call,
    Conditional,
    Index,
    JsonPath,
    Literal,
    Logical,
    Member,
    Node,
    Unary,
    Var,
    children,
)

__all__ = ["MAX_DEPTH", "parse_cached", "parse_source"]

MAX_DEPTH = 100
"""Deepest expression accepted, so evaluation never meets Python's recursion limit."""

# Binding powers, loosest first. Postfix `.`, `[`, `(` bind tighter than all of these.
_TERNARY = 1
_INFIX = {
    "||": 2,
    "&&": 3,
    **dict.fromkeys(("==", "!=", "===", "!=="), 4),
    **dict.fromkeys(("<", "<=", ">", ">="), 5),
    **dict.fromkeys(("+", "-"), 6),
    **dict.fromkeys(("*", "/", "%"), 7),
}
_PREFIX = 8
_LITERALS = (Kind.NUMBER, Kind.STRING, Kind.KEYWORD)


def parse_source(source: str) -> Node:
    """The syntax tree of ``source``; raises :class:`ExpressionError` with an offset."""
    parser = _Parser(source)
    node = parser.expression(0)
    parser.expect_end()
    if _depth(node) > MAX_DEPTH:
        raise ExpressionError("expression nested too deeply", source=source, offset=0)
    return node


def parse_cached(source: str) -> Node:
    """:func:`parse_source`, memoised (trees are immutable).

    Errors are memoised too: the lint and the router evaluation ask about one expression
    once per outcome class, and a long expression that fails late would be tokenized and
    parsed each time. A fresh copy is raised, so tracebacks do not pile up on one object.
    """
    parsed = _parse_memo(source)
    if isinstance(parsed, ExpressionError):
        raise copy.copy(parsed)  # a new object (ExpressionError.__reduce__), no old traceback
    return parsed


@functools.lru_cache(maxsize=2048)
def _parse_memo(source: str) -> Node | ExpressionError:
    try:
        return parse_source(source)
    except ExpressionError as exc:
        return exc.with_traceback(None)


def _depth(root: Node) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children(node))
    return deepest


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.pos = 0
        self.nesting = 0

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind is not Kind.END:
            self.pos += 1
        return token

    def fail(self, detail: str, offset: int) -> NoReturn:
        raise ExpressionError(detail, source=self.source, offset=offset)

    def unexpected(self, token: Token) -> NoReturn:
        self.fail(f"unexpected {token.describe()}", token.offset)

    def expect(self, op: str) -> Token:
        token = self.advance()
        if token.kind is not Kind.OP or token.text != op:
            self.fail(f"expected '{op}' but found {token.describe()}", token.offset)
        return token

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind is not Kind.END:
            self.unexpected(token)

    def expression(self, min_power: int) -> Node:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            self.fail("expression nested too deeply", self.peek().offset)
        left = self.prefix()
        while (token := self.peek()).kind is Kind.OP:
            if token.text in (".", "[", "("):
                left = self.postfix(left, self.advance())
                continue
            power = _TERNARY if token.text == "?" else _INFIX.get(token.text, 0)
            if power <= min_power:
                break
            left = self.infix(left, self.advance(), power)
        self.nesting -= 1
        return left

    def prefix(self) -> Node:
        token = self.advance()
        if token.kind in _LITERALS:
            return Literal(token.value)
        if token.kind is Kind.NAME:
            if self.peek().text == "(" and self.peek().kind is Kind.OP:
                return self.call(token)
            return Var(token.text, token.offset)
        if token.kind is Kind.PATH:
            return self.path(token)
        if token.kind is Kind.OP and token.text == "(":
            inner = self.expression(0)
            self.expect(")")
            return inner
        if token.kind is Kind.OP and token.text in ("!", "-", "+"):
            return Unary(token.text, self.expression(_PREFIX))
        self.unexpected(token)

    def infix(self, left: Node, token: Token, power: int) -> Node:
        if token.text == "?":
            then = self.expression(0)
            self.expect(":")
            return Conditional(left, then, self.expression(_TERNARY - 1))
        right = self.expression(power)
        if token.text in ("&&", "||"):
            return Logical(token.text, left, right)
        return Binary(token.text, left, right)

    def postfix(self, left: Node, token: Token) -> Node:
        if token.text == "(":
            self.fail("only whitelisted functions can be called, by name", token.offset)
        if token.text == "[":
            key = self.expression(0)
            self.expect("]")
            return Index(left, key)
        name = self.advance()
        if name.kind not in (Kind.NAME, Kind.KEYWORD):
            self.fail(f"expected a field name after '.' but found {name.describe()}", name.offset)
        return Member(left, name.text)

    def path(self, token: Token) -> JsonPath:
        try:
            check_path(token.text)
        except ExpressionError as exc:
            self.fail(f"invalid JSONPath: {exc.detail}", token.offset + exc.offset)
        return JsonPath(token.text, token.offset)

    def call(self, name: Token) -> Call:
        self.expect("(")
        args: list[Node] = []
        if not (self.peek().kind is Kind.OP and self.peek().text == ")"):
            args.append(self.expression(0))
            while self.peek().kind is Kind.OP and self.peek().text == ",":
                self.advance()
                args.append(self.expression(0))
        self.expect(")")
        self.check_call(name, len(args))
        return Call(name.text, tuple(args), name.offset)

    def check_call(self, name: Token, count: int) -> None:
        function = FUNCTIONS.get(name.text)
        if function is None:
            hint = did_you_mean(name.text, FUNCTIONS)
            self.fail(
                f"unknown function '{name.text}'" + (f" ({hint})" if hint else ""), name.offset
            )
        low, high = _arity(function)
        if not low <= count <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            if high == math.inf:
                wanted = f"at least {low}"
            self.fail(f"{name.text}() takes {wanted} arguments, got {count}", name.offset)


def _arity(function: Callable[..., Any]) -> tuple[int, float]:
    params = inspect.signature(function).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return 0, math.inf
    required = sum(p.default is inspect.Parameter.empty for p in params)
    return required, len(params)
