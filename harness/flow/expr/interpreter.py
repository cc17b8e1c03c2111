"""Evaluator of expression syntax trees (private; see :mod:`harness.flow.expr`)."""

from __future__ import annotations

from typing import Any

from harness.flow.expr import js
from harness.flow.expr.core import MISSING, ExpressionError, Scope
from harness.flow.expr.functions import FUNCTIONS
from harness.flow.expr.jsonpath import query_first
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
)

__all__ = ["evaluate_node"]


def evaluate_node(node: Node, scope: Scope, source: str = "") -> Any:
    """The value of ``node`` in ``scope``; ``source`` locates any error raised by a function."""
    return _Evaluator(scope, source).value_of(node)


class _Evaluator:
    def __init__(self, scope: Scope, source: str) -> None:
        self.scope = scope
        self.source = source

    def value_of(self, node: Node) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Var):
            value = self.scope.variables.get(node.name)
            return None if value is MISSING else value
        if isinstance(node, JsonPath):
            return self.path(node)
        if isinstance(node, Member):
            return js.member(self.value_of(node.obj), node.name)
        if isinstance(node, Index):
            return js.index(self.value_of(node.obj), self.value_of(node.key))
        if isinstance(node, Unary):
            return self.unary(node.op, self.value_of(node.operand))
        if isinstance(node, Binary):
            return self.binary(node.op, self.value_of(node.left), self.value_of(node.right))
        if isinstance(node, Logical):
            return self.logical(node)
        if isinstance(node, Conditional):
            branch = node.then if js.truthy(self.value_of(node.test)) else node.otherwise
            return self.value_of(branch)
        return self.call(node)

    def path(self, node: JsonPath) -> Any:
        response = self.scope.response
        if response is MISSING:
            return None
        return query_first(node.path, response)

    def logical(self, node: Logical) -> Any:
        left = self.value_of(node.left)
        if js.truthy(left) == (node.op == "||"):
            return left
        return self.value_of(node.right)

    @staticmethod
    def unary(op: str, value: Any) -> Any:
        if op == "!":
            return not js.truthy(value)
        number = js.to_number(value)
        return js.number(-number if op == "-" else number)

    @staticmethod
    def binary(op: str, left: Any, right: Any) -> Any:
        if op == "+":
            return js.add(left, right)
        if op in ("==", "!="):
            return js.loose_equal(left, right) == (op == "==")
        if op in ("===", "!=="):
            return js.strict_equal(left, right) == (op == "===")
        if op in ("<", "<=", ">", ">="):
            return js.compare(op, left, right)
        return js.arith(op, left, right)

    def call(self, node: Call) -> Any:
        args = [self.value_of(arg) for arg in node.args]
        if node.name == "currentTimestamp":
            return self.scope.now_ms()
        try:
            return FUNCTIONS[node.name](*args)
        except ExpressionError as exc:
            raise exc.located(self.source, node.offset) from None
