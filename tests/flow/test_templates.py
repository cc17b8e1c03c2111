"""``{{ expr }}`` templates: typed rendering, textual substitution, placeholder discovery."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from harness.flow.expr import ExpressionError, render_noting_blanks
from harness.flow.expr.templates import (
    Placeholder,
    placeholders,
    render,
    substitute_text,
    to_text,
)

VARS: dict[str, Any] = {
    "phone_number": "+14155552671",
    "customer_profile": {"id": "A-17", "attributes": {"loyalty_tier": "PLATINUM"}},
    "loyalty_tier": "PLATINUM",
    "formatted_phone": "+14155552671",
    "retries": 2,
    "ratio": 0.5,
    "flag": False,
    "nothing": None,
    "tags": ["a", "b"],
}

GUIDE_BODY = (
    '{"account_id": "{{customer_profile.id}}", "phone": "{{formatted_phone}}", '
    "\"priority\": \"{{loyalty_tier == 'PLATINUM' ? 'HIGH' : 'NORMAL'}}\", "
    '"source": "IVR_AUTO"}'
)


# --- to_text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-12, "-12"),
        (1.0, "1"),
        (1.5, "1.5"),
        (-0.0, "0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (123456.789, "123456.789"),
        (2.5e-5, "0.000025"),
        (-1.25e22, "-1.25e+22"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (math.nan, "NaN"),
        ("text", "text"),
        ("", ""),
        ({"a": 1, "b": [True, None]}, '{"a":1,"b":[true,null]}'),
        ([1, "é"], '[1,"é"]'),
        ([], "[]"),
    ],
)
def test_to_text_is_js_like(value: Any, text: str) -> None:
    assert to_text(value) == text


# --- render ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{customer_profile}}", VARS["customer_profile"]),
        ("{{ customer_profile }}", VARS["customer_profile"]),
        ("{{\n\tretries\n}}", 2),
        ("{{retries}}", 2),
        ("{{ratio}}", 0.5),
        ("{{flag}}", False),
        ("{{nothing}}", None),
        ("{{tags}}", ["a", "b"]),
        ("{{retries + 1}}", 3),
        ("{{customer_profile.attributes}}", {"loyalty_tier": "PLATINUM"}),
        ("{{ unknown }}", None),
    ],
)
def test_a_lone_placeholder_keeps_the_value_type(template: str, expected: Any) -> None:
    result = render(template, VARS)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "https://api.crm-provider.com/v2/accounts?phone={{phone_number}}",
            "https://api.crm-provider.com/v2/accounts?phone=+14155552671",
        ),
        ("retries={{retries}}", "retries=2"),
        ("{{retries}}{{retries}}", "22"),
        ("{{retries}} ", "2 "),
        (" {{flag}}", " false"),
        ("[{{nothing}}]", "[]"),
        ("{{tags}}!", '["a","b"]!'),
        ("{{ratio * 2}} units", "1 units"),
        ("no placeholders", "no placeholders"),
        ("", ""),
        ("unclosed {{retries", "unclosed {{retries"),
        ("{{retries}}}", "2}"),
        ("{ {retries} }", "{ {retries} }"),
    ],
)
def test_other_strings_render_as_text(template: str, expected: str) -> None:
    assert render(template, VARS) == expected
    assert substitute_text(template, VARS) == expected


def test_render_recurses_into_dicts_and_lists() -> None:
    config = {
        "headers": {"X-Request-Id": "{{flow_execution_id}}", "Accept": "application/json"},
        "query": ["{{retries}}", "n={{retries}}", 7, None, True],
        "profile": "{{customer_profile}}",
        "{{retries}}": "keys are not rendered",
    }
    rendered = render(config, {**VARS, "flow_execution_id": "exec-1"})
    assert rendered == {
        "headers": {"X-Request-Id": "exec-1", "Accept": "application/json"},
        "query": [2, "n=2", 7, None, True],
        "profile": VARS["customer_profile"],
        "{{retries}}": "keys are not rendered",
    }
    assert config["headers"] == {
        "X-Request-Id": "{{flow_execution_id}}",
        "Accept": "application/json",
    }


@pytest.mark.parametrize("value", [5, 1.5, None, True])
def test_render_leaves_other_scalars_alone(value: Any) -> None:
    assert render(value, VARS) == value


def test_guide_body_renders_to_json() -> None:
    body = substitute_text(GUIDE_BODY, VARS)
    assert json.loads(body) == {
        "account_id": "A-17",
        "phone": "+14155552671",
        "priority": "HIGH",
        "source": "IVR_AUTO",
    }
    normal = substitute_text(GUIDE_BODY, {**VARS, "loyalty_tier": "GOLD"})
    assert json.loads(normal)["priority"] == "NORMAL"


def test_guide_body_breaks_when_a_value_holds_a_quote() -> None:
    """The injection the lint flags: substitution does not escape."""
    body = substitute_text(GUIDE_BODY, {**VARS, "formatted_phone": 'x", "priority": "LOW'})
    assert json.loads(body)["priority"] == "HIGH"  # duplicate key: the last one wins...
    assert '"priority": "LOW"' in body  # ...but the caller controlled the document
    broken = substitute_text(GUIDE_BODY, {**VARS, "formatted_phone": 'a"b'})
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken)


def test_missing_customer_profile_leaves_an_empty_id() -> None:
    body = substitute_text(GUIDE_BODY, {**VARS, "customer_profile": None})
    assert json.loads(body)["account_id"] == ""


def test_substitute_text_uses_the_clock() -> None:
    assert substitute_text("t={{currentTimestamp()}}", {}, now_ms=lambda: 42) == "t=42"
    assert render("{{currentTimestamp()}}", {}, now_ms=lambda: 42) == 42


@pytest.mark.parametrize("template", ["{{ a + }}", "x={{}}", "{{ 'open }}"])
def test_a_broken_placeholder_is_an_expression_error(template: str) -> None:
    with pytest.raises(ExpressionError):
        substitute_text(template, VARS)
    with pytest.raises(ExpressionError):
        render(template, VARS)


# --- placeholders ------------------------------------------------------------------------


def test_placeholders_of_the_guide_body_are_all_inside_json_strings() -> None:
    found = placeholders(GUIDE_BODY)
    assert [p.expr for p in found] == [
        "customer_profile.id",
        "formatted_phone",
        "loyalty_tier == 'PLATINUM' ? 'HIGH' : 'NORMAL'",
    ]
    assert all(p.in_quotes for p in found)
    for p in found:
        assert GUIDE_BODY[p.start : p.start + 2] == "{{"
        assert GUIDE_BODY[p.end - 2 : p.end] == "}}"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("formatPhoneNumber('{{dtmf_input}}')", [Placeholder("dtmf_input", 19, 33, True)]),
        (
            "formatPhoneNumber('{{dtmf_input}}') + (validateE164('{{dtmf_input}}') ? '' : 'X')",
            [Placeholder("dtmf_input", 19, 33, True), Placeholder("dtmf_input", 53, 67, True)],
        ),
        ("{{http_status_code}} >= 500", [Placeholder("http_status_code", 0, 20, False)]),
        (
            "https://api.x.com/v2/accounts?phone={{phone_number}}",
            [Placeholder("phone_number", 36, 52, False)],
        ),
        (
            '{"n": {{retries}}, "s": "{{ name }}"}',
            [Placeholder("retries", 6, 17, False), Placeholder("name", 25, 35, True)],
        ),
        ("'{{a}}' + {{b}}", [Placeholder("a", 1, 6, True), Placeholder("b", 10, 15, False)]),
        (
            r"'it\'s {{a}}' + {{b}}",
            [Placeholder("a", 7, 12, True), Placeholder("b", 16, 21, False)],
        ),
        ('"it\'s {{a}}" + {{b}}', [Placeholder("a", 6, 11, True), Placeholder("b", 15, 20, False)]),
        ("{{ '\"' }} {{b}}", [Placeholder("'\"'", 0, 9, False), Placeholder("b", 10, 15, False)]),
        ("no placeholders", []),
        ("{{unclosed", []),
    ],
)
def test_placeholders_spans_and_quoting(template: str, expected: list[Placeholder]) -> None:
    assert placeholders(template) == expected


def test_placeholder_is_immutable() -> None:
    found = placeholders("{{a}}")[0]
    with pytest.raises(AttributeError):
        found.expr = "b"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("template", "variables", "blanks"),
    [
        ("Your slot is {{slot}}.", {"slot": None}, ["slot=null"]),
        ("Your slot is {{slot}}.", {}, ["slot=null"]),  # undefined reads as null
        ("Hello {{p}}", {"p": {"name": "Ann"}}, ["p=JSON"]),  # an object pasted into text
        ({"a": "{{x}}", "b": ["{{y.z}}"]}, {"x": None, "y": {"z": 1}}, ["x=null"]),
        ({"whole": "{{p}}"}, {"p": {"name": "Ann"}}, []),  # a typed value, not text
        ("{{coalesce(slot, 'soon')}} and {{n}}", {"slot": None, "n": 0}, []),
    ],
)
def test_render_noting_blanks_names_every_hole(template: Any, variables: Any, blanks: Any) -> None:
    rendered, found = render_noting_blanks(template, variables)
    assert found == blanks
    assert rendered == render(template, variables)
