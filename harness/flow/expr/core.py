"""Shared core of the expression engine: the error type, the scope and the MISSING marker.

Private: import these names from :mod:`harness.flow.expr`. They live here so the
lexer, parser, evaluator, JSONPath and function modules can share them without importing
the public facade (which imports all of them).
"""

from __future__ import annotations

import enum
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from harness.errors import HarnessError

__all__ = ["MISSING", "ExpressionError", "Missing", "Scope", "wall_clock_ms"]

_MAX_SHOWN = 120


class Missing(enum.Enum):
    """Type of :data:`MISSING`; an enum so that ``is MISSING`` narrows for mypy."""

    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = Missing.MISSING
"""No value at all: a scope without a response, as opposed to a JSON ``null``."""


def wall_clock_ms() -> int:
    """Milliseconds since the epoch from the wall clock (the default for `currentTimestamp()`)."""
    return time.time_ns() // 1_000_000


class ExpressionError(HarnessError):
    """An expression or template could not be parsed or evaluated.

    ``source`` is the text that was parsed (after any ``{{ }}`` substitution) and ``offset``
    the 0-based character offset of the problem in it; the message shows a 1-based column.
    """

    def __init__(self, detail: str, *, source: str | None = None, offset: int = 0) -> None:
        self.detail = detail
        self.source = source or ""
        self.offset = offset
        self._located = source is not None
        super().__init__(self._render())

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        source = self.source if self._located else None
        rebuild = functools.partial(ExpressionError, self.detail, source=source, offset=self.offset)
        return rebuild, ()

    def _render(self) -> str:
        if not self._located:
            return self.detail
        shown = self.source
        if len(shown) > _MAX_SHOWN:
            shown = shown[: _MAX_SHOWN - 3] + "..."
        return f"expression '{shown}': {self.detail} at column {self.offset + 1}"

    def located(self, source: str, offset: int) -> ExpressionError:
        """This error placed in ``source`` at ``offset``, unless it already has a place."""
        if self._located:
            return self
        return ExpressionError(self.detail, source=source, offset=offset)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """Everything an expression can read.

    ``variables`` are the flow variables; ``response`` is the JSON document that ``$``
    paths query (``MISSING`` outside a response context: every ``$`` path is then null);
    ``now_ms`` is the run clock behind ``currentTimestamp()``.
    """

    variables: Mapping[str, Any]
    response: Any = MISSING
    now_ms: Callable[[], int] = wall_clock_ms
