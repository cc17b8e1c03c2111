"""Map a JSON pointer to the line and column where its value starts in the source text.

A small recursive-descent scanner over the JSON text records the offset of every value
by pointer; nothing is decoded, so positions stay exact for any valid document.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass

__all__ = ["Position", "SourceMap"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """1-based line and column (columns count characters)."""

    line: int
    column: int


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.offsets: dict[str, int] = {}

    def skip_ws(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        self.pos = pos

    def value(self, pointer: str) -> None:
        self.skip_ws()
        self.offsets[pointer] = self.pos
        char = self.text[self.pos : self.pos + 1]
        if char == "{":
            self.container(pointer, "}", keyed=True)
        elif char == "[":
            self.container(pointer, "]", keyed=False)
        elif char == '"':
            self.string()
        else:
            self.scalar()

    def container(self, pointer: str, close: str, *, keyed: bool) -> None:
        self.pos += 1
        index = 0
        while True:
            self.skip_ws()
            if self.pos >= len(self.text) or self.text[self.pos] == close:
                self.pos += 1
                return
            if self.text[self.pos] == ",":
                self.pos += 1
                continue
            if keyed:
                name = self.key()
            else:
                name, index = str(index), index + 1
            self.value(pointer + "/" + name.replace("~", "~0").replace("/", "~1"))

    def key(self) -> str:
        start = self.pos
        self.string()
        raw = self.text[start + 1 : self.pos - 1]
        self.skip_ws()
        self.pos += 1  # the ':'
        return _unescape(raw) if "\\" in raw else raw

    def string(self) -> None:
        pos = self.pos + 1
        text = self.text
        while pos < len(text) and text[pos] != '"':
            pos += 2 if text[pos] == "\\" else 1
        self.pos = pos + 1

    def scalar(self) -> None:
        pos = self.pos
        while pos < len(self.text) and self.text[pos] not in ",]} \t\r\n":
            pos += 1
        self.pos = max(pos, self.pos + 1)


def _unescape(raw: str) -> str:
    try:
        value: str = json.loads(f'"{raw}"')
    except ValueError:
        return raw
    return value


class SourceMap:
    """Positions of every value of one JSON document, by JSON pointer."""

    def __init__(self, text: str) -> None:
        scanner = _Scanner(text)
        if text.strip():
            scanner.value("")
        self._offsets = scanner.offsets
        self._line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def offset(self, pointer: str) -> int | None:
        """The character offset where the value at ``pointer`` starts, or None."""
        return self._offsets.get(pointer)

    def position(self, pointer: str) -> Position:
        """Where ``pointer``'s value starts; falls back to its nearest existing parent."""
        while True:
            offset = self._offsets.get(pointer)
            if offset is not None or not pointer:
                break
            pointer = pointer.rsplit("/", 1)[0]
        if offset is None:
            return Position(line=1, column=1)
        line = bisect.bisect_right(self._line_starts, offset)
        return Position(line=line, column=offset - self._line_starts[line - 1] + 1)
