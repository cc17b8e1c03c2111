"""formatPhoneNumber is total and idempotent, and validateE164 agrees with it (SPEC 3, 6.2).

Extends ``tests/flow/test_expression_properties.py``, which already covers totality and
idempotence over short text, JSON values and a fixed list of regions, the common US
layouts, E.164-looking strings and validateE164 as the strict regex. Here: hostile and
very long text, a ``region`` argument of any JSON value, every region's numbers in each
of libphonenumber's layouts, the scenario's own caller strategies, and the functions as
the flows call them, through the expression language.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from harness.flow.expr import Scope, evaluate
from harness.flow.expr.functions import format_phone_number, validate_e164
from tests.fixtures.flows import HARDENED
from tests.properties.strategies import (
    dtmf_strings,
    formatted_numbers,
    hostile_strings,
    json_values,
    phone_inputs,
    phone_numbers,
)

anything = phone_inputs() | hostile_strings() | json_values()
any_region = st.sampled_from(["US", "gb", "DE", "ZZ", "001", "", "ß"]) | json_values()


@given(anything, any_region)
def test_format_is_total_over_any_value_and_any_region(value: Any, region: Any) -> None:
    result = format_phone_number(value, region)
    assert isinstance(result, str)
    assert result == "" or validate_e164(result)
    assert format_phone_number(result, region) == result
    assert format_phone_number(result) == result


@given(st.text(min_size=251, max_size=2000) | hostile_strings().filter(lambda s: len(s) > 250))
def test_text_past_the_parser_limit_is_never_a_number(text: str) -> None:
    assert format_phone_number(text) == ""


@given(formatted_numbers(), any_region)
def test_international_layouts_format_to_the_numbers_e164_from_any_region(
    number: tuple[str, str, str, str], region: Any
) -> None:
    text, layout, own_region, e164 = number
    if layout == "NATIONAL":
        region = own_region  # a national layout only means something in its own region
    assert format_phone_number(text, region) == e164
    assert validate_e164(e164)


@given(phone_numbers())
def test_the_scenario_phone_strategy_formats_to_its_digits_or_nothing(text: str) -> None:
    digits = "".join(c for c in text if c.isdigit())[-10:]
    result = format_phone_number(text)
    assert result in ("", "+1" + digits)
    assert validate_e164(result) is (result != "")


FLOW = json.loads((HARDENED / "customer-lookup-ivr.json").read_text())
STEPS = {step["id"]: step for step in FLOW["steps"]}
FORMAT = STEPS["transform-payload"]["configuration"]["expression"]
VALIDATE = STEPS["validate-phone"]["configuration"]["conditions"][0]["expression"]


@given(dtmf_strings() | phone_inputs())
def test_the_hardened_flow_admits_a_number_exactly_when_formatting_succeeded(
    keyed: str,
) -> None:
    # The hardened flow's own expressions: format what the caller keyed, then gate on it.
    phone = evaluate(FORMAT, Scope(variables={"dtmf_input": keyed}))
    assert phone == format_phone_number(keyed)
    admitted = evaluate(VALIDATE, Scope(variables={"phone_number": phone}))
    assert admitted is (phone != "")


@given(anything)
def test_the_expression_functions_agree_with_the_python_helpers(value: Any) -> None:
    scope = Scope(variables={"x": value})
    formatted = evaluate("formatPhoneNumber(x)", scope)
    assert formatted == format_phone_number(value)
    assert evaluate("formatPhoneNumber(formatPhoneNumber(x))", scope) == formatted
    assert evaluate("validateE164(formatPhoneNumber(x)) || formatPhoneNumber(x) == ''", scope)
