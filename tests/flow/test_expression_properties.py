"""Hypothesis properties of the expression engine and its functions.

Example counts come from the profiles in the root conftest.py.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from harness.flow.expr import (
    ExpressionError,
    Scope,
    evaluate,
    evaluate_condition,
    evaluate_mapping,
    parse,
    variables_used,
)
from harness.flow.expr.functions import encode_uri_component, format_phone_number, validate_e164
from harness.flow.expr.templates import placeholders, render, substitute_text, to_text

REGIONS = st.sampled_from(["US", "GB", "DE", "FR", "IN", "BR", "JP", "AU", "it", "ZZ", ""])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["data", "id", "a", "length", "status"]), inner, max_size=4
        )
    ),
    max_leaves=12,
)


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


@st.composite
def us_numbers(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from("23456789")) + draw(_digits(2))
    exchange = draw(st.sampled_from("23456789")) + draw(_digits(2))
    line = draw(_digits(4))
    sep = draw(st.sampled_from([" ", "-", ".", "", "  ", " - "]))
    shape = draw(
        st.sampled_from(
            [
                "+1 {a}{s}{b}{s}{c}",
                "({a}) {b}-{c}",
                "{a}.{b}.{c}",
                "{a}{s}{b}{s}{c}",
                "1{s}{a}{s}{b}{s}{c}",
                "+1{s}({a}){s}{b}{s}{c}",
                "011 1 {a} {b} {c}",
            ]
        )
    )
    return shape.format(a=area, b=exchange, c=line, s=sep)


@st.composite
def international_numbers(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["0044", "+44", "00 44", "011 44", "0049", "+33", "+91"]))
    sep = draw(st.sampled_from([" ", "-", ""]))
    groups = draw(st.lists(_digits(3), min_size=2, max_size=4))
    return prefix + sep + sep.join(groups)


phone_like = us_numbers() | international_numbers()
any_input = (
    phone_like
    | st.text()
    | st.text(alphabet="+0123456789 ()-.#*٠١٢٣٤٥٦٧٨٩x", max_size=30)
    | json_values
)


# --- formatPhoneNumber / validateE164 ----------------------------------------------------


@given(any_input, REGIONS)
def test_format_phone_number_is_total_and_agrees_with_validate_e164(
    value: Any, region: str
) -> None:
    result = format_phone_number(value, region)
    assert isinstance(result, str)
    assert result == "" or validate_e164(result)


@given(any_input, REGIONS)
def test_format_phone_number_is_idempotent(value: Any, region: str) -> None:
    once = format_phone_number(value, region)
    assert format_phone_number(once, region) == once
    assert format_phone_number(once) == once  # E.164 does not depend on the region


@given(us_numbers())
def test_common_us_formats_all_format_to_the_same_e164(text: str) -> None:
    digits = re.sub(r"\D", "", text)[-10:]
    assert format_phone_number(text) in ("", "+1" + digits)


@given(st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True))
def test_an_e164_looking_string_formats_to_a_canonical_e164(text: str) -> None:
    # Not always to itself: '+200200000000' carries Egypt's trunk prefix 0, and its
    # E.164 form is '+20200000000'.
    result = format_phone_number(text)
    assert result == "" or (validate_e164(result) and format_phone_number(result) == result)


@given(st.text())
def test_validate_e164_is_the_strict_regex(text: str) -> None:
    expected = re.fullmatch(r"\+[1-9][0-9]{1,14}", text, flags=re.ASCII) is not None
    assert validate_e164(text) is expected


# --- encodeUriComponent ------------------------------------------------------------------

ENCODED = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()]|%[0-9A-F]{2})*")


@given(st.text())
def test_encode_uri_component_output_is_safe_and_round_trips(text: str) -> None:
    encoded = encode_uri_component(text)
    assert ENCODED.fullmatch(encoded)
    assert urllib.parse.unquote(encoded, errors="strict") == text


@given(st.text(alphabet=st.characters(codec="ascii")))
def test_encode_uri_component_keeps_exactly_the_unreserved_ascii(text: str) -> None:
    encoded = encode_uri_component(text)
    kept = "".join(ch for ch in text if re.fullmatch(r"[A-Za-z0-9\-_.!~*'()]", ch))
    assert re.sub(r"%[0-9A-F]{2}", "", encoded) == kept


# --- the parser and evaluator are total up to ExpressionError ---------------------------

EXPRESSION_ALPHABET = "ab_01.5e +-*/%<>=!&|?:()[],'\"\\$@{}\n"
expression_text = st.text() | st.text(alphabet=EXPRESSION_ALPHABET, max_size=40)
SCOPE = Scope(
    variables={"a": [1, "x", None], "b": {"a": 0, "length": "2"}, "_": "", "e": 1e308},
    response={"data": [{"id": 1}], "a": None},
    now_ms=lambda: 0,
)


@given(expression_text)
def test_parser_raises_nothing_but_expression_error(source: str) -> None:
    try:
        parse(source)
    except ExpressionError as error:
        assert error.source == source
        assert 0 <= error.offset <= len(source)


@given(expression_text)
def test_evaluation_raises_nothing_but_expression_error_and_stays_json(source: str) -> None:
    try:
        result = evaluate_condition(source, SCOPE)
        variables_used(source)
    except ExpressionError:
        return
    json.dumps(result, allow_nan=False)


@given(st.text())
def test_templates_raise_nothing_but_expression_error(template: str) -> None:
    try:
        render(template, SCOPE.variables)
        substitute_text(template, SCOPE.variables)
    except ExpressionError:
        pass
    for placeholder in placeholders(template):
        assert template[placeholder.start : placeholder.end].startswith("{{")


@given(
    json_values,
    st.sampled_from(
        [
            "$.data[0]",
            "$.data[0].id",
            "$.status",
            "$..id",
            "$.data.length",
            "$.data && $.data.length > 0 ? $.data[0] : null",
            "$.data[0].a.b > 0",
        ]
    ),
)
def test_mapping_never_raises_for_missing_data(document: Any, mapping: str) -> None:
    result = evaluate_mapping(mapping, Scope(variables={}, response=document))
    json.dumps(result)


# --- agreement with Python on the simple cases -------------------------------------------

small_ints = st.integers(-(10**6), 10**6)


@given(small_ints, small_ints, st.sampled_from(["+", "-", "*", "<", "<=", ">", ">=", "==", "!="]))
def test_integer_operators_agree_with_python(left: int, right: int, op: str) -> None:
    expected = {
        "+": left + right,
        "-": left - right,
        "*": left * right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
        "==": left == right,
        "!=": left != right,
    }[op]
    assert evaluate(f"{left} {op} {right}", SCOPE) == expected
    assert evaluate(f"a {op} b", Scope(variables={"a": left, "b": right})) == expected


@given(small_ints, small_ints.filter(bool))
def test_division_and_remainder_follow_js(left: int, right: int) -> None:
    assert evaluate(f"{left} / {right}", SCOPE) == left / right
    expected = math.fmod(left, right)
    assert evaluate(f"{left} % {right}", SCOPE) == expected


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_to_text_of_a_number_round_trips(value: float) -> None:
    assert float(to_text(value)) == value
    assert evaluate(f"+'{to_text(value)}'", SCOPE) == value


@given(st.text())
def test_a_quoted_string_literal_round_trips(text: str) -> None:
    assume("\r" not in text and "\n" not in text and "\u2028" not in text and "\u2029" not in text)
    literal = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    assert evaluate(literal, SCOPE) == text
