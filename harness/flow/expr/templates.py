"""``{{ expr }}`` templates: the textual substitution the platform performs.

A placeholder runs from ``{{`` to the first ``}}`` after it; its inside (surrounding
whitespace allowed) is an expression evaluated against the flow variables. An unclosed
``{{`` is plain text. Substitution is textual: the platform pastes a value's text into the
surrounding string before anything parses it, which is why ``'{{dtmf_input}}'`` inside an
expression and ``"{{var}}"`` inside a JSON body string are injection risks
(:attr:`Placeholder.in_quotes` lets the lint find them).

Placeholders are found with two ``str.find`` calls each, in linear time: the regular
expression ``{{(.*?)}}`` this replaced is quadratic on text full of unclosed ``{{``
(40,000 of them took 27 s).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from harness.flow.expr.core import MISSING, Scope, wall_clock_ms
from harness.flow.expr.interpreter import evaluate_node
from harness.flow.expr.js import to_text
from harness.flow.expr.parser import parse_cached

__all__ = [
    "Placeholder",
    "count_placeholders",
    "mask_placeholders",
    "placeholders",
    "render",
    "render_in",
    "render_noting_blanks",
    "substitute_in",
    "substitute_text",
    "to_text",
]


def _spans(template: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of every placeholder: a ``{{`` to the first ``}}`` after it."""
    pos = 0
    while (start := template.find("{{", pos)) != -1:
        close = template.find("}}", start + 2)
        if close == -1:
            return  # no '}}' after this '{{', so none after any later one either
        pos = close + 2
        yield start, pos


def _inside(template: str, start: int, end: int) -> str:
    return template[start + 2 : end - 2]


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One ``{{ expr }}`` in a template.

    ``expr`` is the stripped inside; ``start``/``end`` span the braces (end exclusive);
    ``in_quotes`` says whether the placeholder sits inside a ``'...'`` or ``"..."`` string
    literal of the surrounding text (backslash escapes honoured, other placeholders
    skipped). That is meaningful for expression and JSON text, not for prose prompts.
    """

    expr: str
    start: int
    end: int
    in_quotes: bool


def placeholders(template: str) -> list[Placeholder]:
    """Every placeholder of ``template``, in order."""
    found: list[Placeholder] = []
    quote, pos = "", 0
    for start, end in _spans(template):
        quote = _quote_state(template, pos, start, quote)
        found.append(Placeholder(_inside(template, start, end).strip(), start, end, bool(quote)))
        pos = end
    return found


def count_placeholders(template: str, stop: int) -> int:
    """How many placeholders ``template`` holds, counting no further than ``stop``."""
    count = 0
    for _ in _spans(template):
        count += 1
        if count >= stop:
            break
    return count


def mask_placeholders(template: str, mask: str) -> str:
    """``template`` with every placeholder, braces included, replaced by ``mask``."""
    parts: list[str] = []
    pos = 0
    for start, end in _spans(template):
        parts += (template[pos:start], mask)
        pos = end
    parts.append(template[pos:])
    return "".join(parts)


def _quote_state(text: str, start: int, stop: int, quote: str) -> str:
    """The open quote character (or '') after scanning ``text[start:stop]`` from ``quote``."""
    pos = start
    while pos < stop:
        char = text[pos]
        if quote and char == "\\":
            pos += 1
        elif char == quote:
            quote = ""
        elif not quote and char in "'\"":
            quote = char
        pos += 1
    return quote


def _value(expr: str, scope: Scope) -> Any:
    return evaluate_node(parse_cached(expr), scope, expr)


# Hears each placeholder's value: (expression, value, pasted into text or not).
Note = Callable[[str, Any, bool], None]


def _noted(expr: str, scope: Scope, note: Note | None, pasted: bool) -> Any:
    value = _value(expr, scope)
    if note is not None:
        note(expr, value, pasted)
    return value


def substitute_in(template: str, scope: Scope, note: Note | None = None) -> str:
    """``template`` with every placeholder replaced by the text of its value in ``scope``."""
    parts: list[str] = []
    pos = 0
    for start, end in _spans(template):
        parts.append(template[pos:start])
        parts.append(to_text(_noted(_inside(template, start, end).strip(), scope, note, True)))
        pos = end
    parts.append(template[pos:])
    return "".join(parts)


def render_in(template: Any, scope: Scope, note: Note | None = None) -> Any:
    """:func:`render` with a full :class:`~harness.flow.expr.Scope`; ``note`` hears the
    value of every placeholder rendered."""
    if isinstance(template, str):
        first = next(_spans(template), None)
        if first == (0, len(template)):
            return _noted(_inside(template, 0, len(template)).strip(), scope, note, False)
        return substitute_in(template, scope, note)
    if isinstance(template, dict):
        return {key: render_in(value, scope, note) for key, value in template.items()}
    if isinstance(template, list):
        return [render_in(item, scope, note) for item in template]
    return template


def substitute_text(
    template: str, variables: Mapping[str, Any], *, now_ms: Callable[[], int] = wall_clock_ms
) -> str:
    """Textual substitution: always a string; a null value becomes ''.

    Raises :class:`~harness.flow.expr.ExpressionError` when a placeholder's
    expression does not parse.
    """
    return substitute_in(template, Scope(variables=variables, now_ms=now_ms))


def render(
    template: Any, variables: Mapping[str, Any], *, now_ms: Callable[[], int] = wall_clock_ms
) -> Any:
    """Render a configuration value: strings, and dicts/lists of them, recursively.

    A string that is exactly one ``{{expr}}`` keeps the value's type (a dict stays a dict,
    null stays None); any other string is rendered as text. Dict keys and non-string
    scalars are left unchanged.
    """
    return render_in(template, Scope(variables=variables, now_ms=now_ms))


def render_noting_blanks(
    template: Any, variables: Mapping[str, Any], *, now_ms: Callable[[], int] = wall_clock_ms
) -> tuple[Any, list[str]]:
    """:func:`render`, and every placeholder that left a blank in what it rendered: a null
    value (``slot_time=null``), or an object or array pasted into text (``slot=JSON``).
    Nobody should hear "your slot is ." or find "/patients//slots" in a request."""
    blanks: list[str] = []

    def note(expr: str, value: Any, pasted: bool) -> None:
        if value is None or value is MISSING:
            blanks.append(f"{expr}=null")
        elif pasted and isinstance(value, dict | list | tuple):
            blanks.append(f"{expr}=JSON")

    return render_in(template, Scope(variables=variables, now_ms=now_ms), note), blanks
