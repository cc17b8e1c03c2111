"""The expression engine of CXone Studio flows: parse, evaluate, inspect, render templates.

This package's namespace is its public surface; its modules (lexer, parser, nodes,
interpreter, js, functions, jsonpath, templates) are the implementation.

Grammar (loosest binding first; a hand-written Pratt parser, never Python ``eval``)::

    expr     := cond
    cond     := or ( '?' expr ':' cond )?            right-associative
    or       := and ( '||' and )*                     returns an operand's value
    and      := eq ( '&&' eq )*                       returns an operand's value
    eq       := rel ( ('==' | '!=' | '===' | '!==') rel )*
    rel      := add ( ('<' | '<=' | '>' | '>=') add )*
    add      := mul ( ('+' | '-') mul )*
    mul      := unary ( ('*' | '/' | '%') unary )*
    unary    := ('!' | '-' | '+') unary | postfix
    postfix  := primary ( '.' NAME | '[' expr ']' )*
    primary  := NUMBER | STRING | true | false | null | NAME | NAME '(' args? ')'
              | JSONPATH | '(' expr ')'

``NUMBER`` is ``1``, ``1.5``, ``1e3`` (no leading dot, no hex). ``STRING`` is ``'...'`` or
``"..."`` with backslash escapes (``\\n \\t \\r \\b \\f \\v \\0 \\xHH \\uHHHH``; any other
escaped character stands for itself) and no raw line breaks. ``NAME`` is
``[A-Za-z_][A-Za-z0-9_]*``: a flow variable, or a function when followed by ``(``.
Only the functions in :data:`harness.flow.expr.functions.FUNCTIONS` can be called (checked,
with their argument count, at parse time). ``JSONPATH`` starts with ``$`` and runs over
``.name``, ``.*``, ``..name`` and ``[...]`` segments (RFC 9535, validated at parse time)
up to a ``.length`` segment or anything else. A ``[...]`` right after a path belongs to
the path, so it must be an RFC 9535 selector; to index with a variable, parenthesise:
``($.data)[i]``.

Evaluation is JavaScript-like over JSON values; deliberate choices:

* Unknown variables, ``.field`` of null or of a non-object, ``[i]`` out of range or of the
  wrong kind: null, never an exception. ``.length`` is the length of a string (code
  points) or array, else null (an object's ``length`` field if it has one).
* ``$path`` is the first node the RFC 9535 query selects in the scope's response, null when
  none matches or the scope has no response; ``$path.length`` is the JS length of that
  value. So ``$.data && $.data.length > 0 ? $.data[0] : null`` is null for
  ``{"data": []}`` (an empty array is truthy, its length is 0).
* Truthiness: null, false, 0, NaN and '' are falsy; every array and object is truthy.
  ``&&``/``||`` short-circuit and return an operand; ``!`` returns a boolean.
* ``+`` concatenates when either side is a string, array or object, converting both
  with :func:`harness.flow.expr.templates.to_text` (so null becomes '' -- JS would write
  'null'); otherwise it adds numbers.
* Arithmetic converts with JS ``ToNumber`` (null 0, true 1, '' 0, ' 12 ' 12, 'abc' NaN,
  arrays/objects NaN). ``%`` takes the sign of the dividend, as in JS. Any result that
  is not a finite number -- a division or remainder by zero, NaN, overflow -- is
  null (JS would give Infinity or NaN, which JSON cannot carry). Integral results are ints.
* ``< <= > >=``: two strings compare by code point; otherwise both sides are converted
  with ToNumber (null is 0, so ``null < 500`` is true) and NaN compares false.
* ``==``/``!=``: JS loose equality on primitives -- null equals only null (there is no
  undefined); a boolean is converted to a number first; a number and a string compare as
  numbers (``'200' == 200``, ``'' == 0``); arrays/objects equal only arrays/objects of the
  same structure, never a primitive. ``===``/``!==``: same kind and value.
* Substitution first (:func:`evaluate_condition`): ``{{ }}`` placeholders are replaced by
  text before parsing, as the platform does. With ``http_status_code`` 0 (no response),
  ``{{http_status_code}} < 500`` is ``0 < 500``: true; a value containing a quote breaks
  ``formatPhoneNumber('{{dtmf_input}}')`` into a parse error; a null value leaves an empty
  operand (``' < 500'``), also a parse error.
"""

from __future__ import annotations

import functools
from typing import Any

from harness.flow.expr.core import MISSING, ExpressionError, Missing, Scope
from harness.flow.expr.functions import (
    FUNCTIONS,
    encode_uri_component,
    format_phone_number,
    validate_e164,
)
from harness.flow.expr.interpreter import evaluate_node
from harness.flow.expr.js import truthy
from harness.flow.expr.jsonpath import check_path, is_valid_path, query_all, query_first
from harness.flow.expr.lexer import Kind, tokenize
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
from harness.flow.expr.parser import MAX_DEPTH, parse_cached
from harness.flow.expr.templates import (
    Placeholder,
    count_placeholders,
    mask_placeholders,
    placeholders,
    render,
    render_in,
    render_noting_blanks,
    substitute_in,
    substitute_text,
    to_text,
)

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "Placeholder",
    "check_path",
    "count_placeholders",
    "encode_uri_component",
    "format_phone_number",
    "is_valid_path",
    "mask_placeholders",
    "placeholders",
    "query_all",
    "query_first",
    "render",
    "render_in",
    "render_noting_blanks",
    "substitute_in",
    "substitute_text",
    "to_text",
    "validate_e164",
    "Binary",
    "Call",
    "Conditional",
    "Index",
    "JsonPath",
    "Literal",
    "Logical",
    "Member",
    "Unary",
    "Var",
    "children",
    "MISSING",
    "ExpressionError",
    "Missing",
    "Node",
    "Scope",
    "evaluate",
    "evaluate_condition",
    "evaluate_mapping",
    "is_pure_jsonpath",
    "parse",
    "truthy",
    "variables_used",
]


def parse(source: str) -> Node:
    """The syntax tree of a bare expression (no ``{{ }}``), memoised.

    Raises :class:`ExpressionError` naming the offending token and its column.
    """
    return parse_cached(source)


def evaluate(source: str, scope: Scope) -> Any:
    """The value of a bare expression (no ``{{ }}`` substitution) in ``scope``."""
    return evaluate_node(parse_cached(source), scope, source)


def evaluate_condition(source: str, scope: Scope) -> Any:
    """The platform's way: substitute ``{{ }}`` as text, then parse and evaluate.

    Used for Condition steps and DataAPI ``evaluate``; reproduces the platform's
    injection and null-status behaviour (see the module docstring).
    """
    return evaluate(substitute_in(source, scope), scope)


def evaluate_mapping(value: str, scope: Scope) -> Any:
    """A ``responseMapping`` value: a pure JSONPath gives its first match or None;
    anything else is evaluated as an expression over the response.

    Missing data never raises (null instead); a malformed value raises ExpressionError.
    """
    text = value.strip()
    if is_pure_jsonpath(text):
        return None if scope.response is MISSING else query_first(text, scope.response)
    return evaluate_condition(value, scope)


def is_pure_jsonpath(value: str) -> bool:
    """Whether ``value`` (stripped) is one valid RFC 9535 query and nothing else.

    A trailing ``.length`` makes it an expression (JS length), not a pure path.
    """
    return _is_pure_jsonpath(value.strip())


@functools.lru_cache(maxsize=2048)  # every response mapping of every call asks again
def _is_pure_jsonpath(text: str) -> bool:
    if not text.startswith("$"):
        return False
    try:
        tokens = tokenize(text)
    except ExpressionError:
        return False
    return len(tokens) == 2 and tokens[0].kind is Kind.PATH and is_valid_path(text)


def variables_used(source: str) -> set[str]:
    """Root names of the flow variables an expression or template reads.

    For text with ``{{ }}``, the placeholders' variables plus those of the surrounding
    expression (read with every placeholder as ``null``, when that parses at all -- a URL
    or JSON body does not). Raises ExpressionError for an unparsable expression.
    """
    found = placeholders(source)
    if not found:
        return _names(parse_cached(source))
    names: set[str] = set()
    outer, pos = [], 0
    for placeholder in found:
        names |= _names(parse_cached(placeholder.expr))
        outer.append(source[pos : placeholder.start] + "null")
        pos = placeholder.end
    try:
        names |= _names(parse_cached("".join(outer) + source[pos:]))
    except ExpressionError:
        pass
    return names


def _names(root: Node) -> set[str]:
    names: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, Var):
            names.add(node.name)
        stack.extend(children(node))
    return names
