"""Lexer of the expression language (private; see :mod:`harness.flow.expr`)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from harness.flow.expr.core import ExpressionError

__all__ = ["MAX_TOKENS", "Kind", "Token", "tokenize"]

MAX_TOKENS = 10_000
"""Most tokens in one expression (a router of 2,500 ``||`` terms); real ones have under 100."""


class Kind(enum.Enum):
    NUMBER = "number"
    STRING = "string"
    NAME = "identifier"
    KEYWORD = "keyword"
    PATH = "JSONPath"
    OP = "operator"
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    offset: int
    value: Any = None

    def describe(self) -> str:
        if self.kind is Kind.END:
            return "end of expression"
        if self.kind is Kind.OP:
            return f"'{self.text}'"
        return f"{self.kind.value} {self.text!r}"


_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = re.compile(r"\s+")
_OPERATORS = sorted(
    "=== !== == != <= >= && || < > + - * / % ! ? : ( ) [ ] . ,".split(), key=len, reverse=True
)
_KEYWORDS: dict[str, Any] = {"true": True, "false": False, "null": None}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_LINE_BREAKS = "\n\r\u2028\u2029"
_HINTS = {"=": " (did you mean '=='?)", "&": " (did you mean '&&'?)", "|": " (did you mean '||'?)"}
_SAFE_INT = 2**53


def tokenize(source: str) -> list[Token]:
    """The tokens of ``source``, ending with an END token."""
    tokens: list[Token] = []
    pos = 0
    while True:
        space = _SPACE.match(source, pos)
        if space:
            pos = space.end()
        if pos >= len(source):
            tokens.append(Token(Kind.END, "", pos))
            return tokens
        if len(tokens) >= MAX_TOKENS:
            raise ExpressionError(
                f"expression longer than {MAX_TOKENS} tokens", source=source, offset=pos
            )
        token = _next_token(source, pos)
        tokens.append(token)
        pos += len(token.text)


def _next_token(source: str, pos: int) -> Token:
    char = source[pos]
    if char in "'\"":
        return _string(source, pos)
    if char == "$":
        return _path(source, pos)
    number = _NUMBER.match(source, pos)
    if number:
        return Token(Kind.NUMBER, number.group(), pos, _number_value(number.group()))
    name = _NAME.match(source, pos)
    if name:
        word = name.group()
        if word in _KEYWORDS:
            return Token(Kind.KEYWORD, word, pos, _KEYWORDS[word])
        return Token(Kind.NAME, word, pos, word)
    for op in _OPERATORS:
        if source.startswith(op, pos):
            return Token(Kind.OP, op, pos)
    raise ExpressionError(f"unexpected {char!r}{_HINTS.get(char, '')}", source=source, offset=pos)


def _number_value(text: str) -> int | float:
    if text.isdigit() and len(text) <= 16 and int(text) <= _SAFE_INT:
        return int(text)
    value = float(text)
    return int(value) if value.is_integer() and abs(value) <= _SAFE_INT else value


def _string(source: str, start: int) -> Token:
    quote = source[start]
    chars: list[str] = []
    pos = start + 1
    while pos < len(source) and source[pos] != quote:
        char = source[pos]
        if char in _LINE_BREAKS:
            break
        if char == "\\":
            text, pos = _escape(source, pos)
            chars.append(text)
            continue
        chars.append(char)
        pos += 1
    if pos >= len(source) or source[pos] != quote:
        raise ExpressionError("unterminated string", source=source, offset=start)
    return Token(Kind.STRING, source[start : pos + 1], start, "".join(chars))


def _escape(source: str, pos: int) -> tuple[str, int]:
    """The character of the escape at ``pos`` (a backslash) and the offset after it."""
    if pos + 1 >= len(source):
        raise ExpressionError("unterminated string", source=source, offset=pos)
    char = source[pos + 1]
    if char in "ux":
        width = 4 if char == "u" else 2
        digits = source[pos + 2 : pos + 2 + width]
        if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise ExpressionError(f"invalid \\{char} escape", source=source, offset=pos)
        return chr(int(digits, 16)), pos + 2 + width
    return _ESCAPES.get(char, char), pos + 2


def _path(source: str, start: int) -> Token:
    """A ``$``-rooted JSONPath, up to (not including) a ``.length`` segment or an operator."""
    pos = start + 1
    while pos < len(source):
        if source[pos] == "[":
            pos = _bracket_end(source, pos)
            continue
        if source[pos] != ".":
            break
        after = pos + (2 if source.startswith("..", pos) else 1)
        end = _selector_end(source, after, descendant=after == pos + 2)
        if end == after or source[pos:end] == ".length":
            break
        pos = end
    text = source[start:pos]
    return Token(Kind.PATH, text, start, text)


def _selector_end(source: str, pos: int, *, descendant: bool) -> int:
    """End of the ``*``, member name (or, after ``..``, bracket) at ``pos``; ``pos`` if none."""
    if source.startswith("*", pos):
        return pos + 1
    if descendant and source.startswith("[", pos):
        return _bracket_end(source, pos)
    end = pos
    while end < len(source) and (source[end].isalnum() or source[end] == "_"):
        end += 1
    return end


def _bracket_end(source: str, start: int) -> int:
    """The offset after the ``]`` closing the ``[`` at ``start`` (quotes and nesting aware)."""
    depth, quote, pos = 0, "", start
    while pos < len(source):
        char = source[pos]
        if quote:
            if char == "\\":
                pos += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return pos + 1
        pos += 1
    raise ExpressionError("unbalanced '[' in JSONPath", source=source, offset=start)
