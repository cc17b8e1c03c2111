"""Syntax tree of the expression language (private; see :mod:`harness.flow.expr`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = [
    "Binary",
    "Call",
    "Conditional",
    "Index",
    "JsonPath",
    "Literal",
    "Logical",
    "Member",
    "Node",
    "Unary",
    "Var",
    "children",
]


@dataclass(frozen=True, slots=True)
class Literal:
    """A number, string, ``true``, ``false`` or ``null``."""

    value: Any


@dataclass(frozen=True, slots=True)
class Var:
    """A flow variable read by name; an unknown name is null."""

    name: str
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A ``$``-rooted RFC 9535 path over the scope's response (first match or null)."""

    path: str
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Member:
    """``obj.name``."""

    obj: Node
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    """``obj[key]``."""

    obj: Node
    key: Node


@dataclass(frozen=True, slots=True)
class Unary:
    """``!x``, ``-x`` or ``+x``."""

    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic, comparison and equality operators (both sides always evaluated)."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logical:
    """``&&`` and ``||``: short-circuit, returning an operand's value."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Conditional:
    """``test ? then : otherwise``."""

    test: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class Call:
    """A call of a whitelisted function."""

    name: str
    args: tuple[Node, ...]
    offset: int = field(default=0, compare=False)


Node: TypeAlias = (
    Literal | Var | JsonPath | Member | Index | Unary | Binary | Logical | Conditional | Call
)


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of ``node``."""
    if isinstance(node, Member):
        return (node.obj,)
    if isinstance(node, Index):
        return (node.obj, node.key)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary | Logical):
        return (node.left, node.right)
    if isinstance(node, Conditional):
        return (node.test, node.then, node.otherwise)
    if isinstance(node, Call):
        return node.args
    return ()
