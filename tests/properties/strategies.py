"""Hypothesis strategies shared by the property suite (SPEC 6.2).

Hostile strings, caller input (DTMF, phone numbers in the formats people and CRMs write
them), flow variable values of every JSON type, and payloads drawn from the bundled
OpenAPI contracts through schemathesis (``hypothesis-jsonschema`` is broken on current
Hypothesis). Example counts come from the profiles in the root ``conftest.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import phonenumbers
import schemathesis
import yaml
from hypothesis import strategies as st
from schemathesis.schemas import APIOperation

from harness.scenario.callers import dtmf_strings, phone_numbers

__all__ = [
    "CONTRACTS",
    "contract_bodies",
    "contract_query",
    "dtmf_strings",
    "flow_variables",
    "formatted_numbers",
    "hostile_strings",
    "json_values",
    "operation",
    "phone_inputs",
    "phone_numbers",
    "request_schema",
]

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"

# Every character that has broken a JSON body, a URL or an expression somewhere.
_NASTY = (
    "",
    '"',
    "'",
    "\\",
    '\\"',
    '"}',
    '", "priority": "HIGH',
    "{{",
    "}}",
    "{{api_key_variable}}",
    "' + 1 + '",
    "&phone=+1",
    "#",
    "%",
    "%2B",
    "+",
    "?",
    "/",
    " ",
    "\x00",
    "\n",
    "\r\n",
    "\t",
    "\x7f",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\U0001f4de",  # an astral character: a surrogate pair in UTF-16 and JavaScript
    "\u0661\u0662\u0663",  # Arabic-Indic digits
    "null",
    "NaN",
    "</script>",
)

# Surrogate-free: a lone surrogate cannot travel in UTF-8 at all (see encodeUriComponent).
_any_char = st.characters(codec="utf-8")
_special_char = st.sampled_from("\"'\\{}[]&=#%+?/: ,;<>$\x00\n\r\t\x1f\x7f\u2028\u2029\ufeff")
_astral_char = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF, codec="utf-8")
_control_char = st.characters(max_codepoint=0x1F) | st.sampled_from("\x7f\x85\x9f")


def hostile_strings(*, max_size: int = 40) -> st.SearchStrategy[str]:
    """Quotes, braces, backslashes, control and astral characters, empty and very long text."""
    pieces = st.sampled_from(_NASTY) | st.text(
        alphabet=_special_char | _astral_char | _control_char | _any_char, max_size=max_size
    )
    very_long = st.builds(lambda s, n: (s or "x") * n, pieces, st.integers(64, 1200))
    return st.one_of(
        st.sampled_from(_NASTY),
        st.text(alphabet=_any_char, max_size=max_size),
        st.lists(pieces, max_size=4).map("".join),
        very_long,
    )


def json_values(strings: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Any]:
    """Flow variable values of every JSON type (strings hostile by default)."""
    text = strings if strings is not None else hostile_strings(max_size=12)
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**63)
        | st.floats(allow_nan=False, allow_infinity=False)
        | text
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["id", "data", "", '"', "{{x}}"]) | text, inner, max_size=4
            )
        ),
        max_leaves=10,
    )


def flow_variables(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """A variable scope in which each of ``names`` holds any JSON value, or is unset."""
    return st.fixed_dictionaries({}, optional={name: json_values() for name in names})


# --- phone numbers -------------------------------------------------------------------------

_REGIONS = tuple(sorted(phonenumbers.SUPPORTED_REGIONS))
_FORMATS = {
    "E164": phonenumbers.PhoneNumberFormat.E164,
    "INTERNATIONAL": phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    "NATIONAL": phonenumbers.PhoneNumberFormat.NATIONAL,
    "RFC3966": phonenumbers.PhoneNumberFormat.RFC3966,
}


@st.composite
def formatted_numbers(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """A valid number of any region as ``(text, format name, region, its E.164)``.

    Built from libphonenumber's example number for a region and type with its last
    digits redrawn, kept only when it is still valid.
    """
    region = draw(st.sampled_from(_REGIONS))
    kind = draw(
        st.sampled_from(
            [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
        )
    )
    example = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(
        region
    )
    if example is None:  # a few non-geographic regions have no example at all
        region, example = "US", phonenumbers.example_number_for_type("US", kind)
    assert example is not None
    national = str(example.national_number)
    tail = draw(st.text(alphabet="0123456789", min_size=0, max_size=min(4, len(national) - 1)))
    candidate = phonenumbers.PhoneNumber(
        country_code=example.country_code,
        national_number=int(national[: len(national) - len(tail)] + tail),
        italian_leading_zero=example.italian_leading_zero,
        number_of_leading_zeros=example.number_of_leading_zeros,
    )
    if not phonenumbers.is_valid_number(candidate):
        candidate = example
    name = draw(st.sampled_from(sorted(_FORMATS)))
    text = phonenumbers.format_number(candidate, _FORMATS[name])
    e164 = phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
    return text, name, region, e164


def phone_inputs() -> st.SearchStrategy[str]:
    """Anything a phone variable might hold: caller formats, DTMF, valid numbers, junk."""
    return st.one_of(
        phone_numbers(),
        dtmf_strings(),
        formatted_numbers().map(lambda t: t[0]),
        st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True),
        hostile_strings(),
    )


# --- payloads from the contracts -----------------------------------------------------------


@functools.cache
def operation(spec: str, path: str, method: str) -> APIOperation[Any, Any, Any, Any]:
    """One operation of a bundled OpenAPI contract (``spec`` is a file in contracts/openapi)."""
    schema = schemathesis.openapi.from_path(str(CONTRACTS / "openapi" / spec))
    return schema[path][method]


@functools.cache
def _document(spec: str) -> Mapping[str, Any]:
    loaded: Mapping[str, Any] = yaml.safe_load((CONTRACTS / "openapi" / spec).read_text())
    return loaded


def request_schema(spec: str, name: str) -> Mapping[str, Any]:
    """A component schema of a bundled contract, for an independent jsonschema check."""
    schema: Mapping[str, Any] = _document(spec)["components"]["schemas"][name]
    return schema


def contract_bodies(spec: str, path: str, method: str) -> st.SearchStrategy[Any]:
    """Request bodies schemathesis generates for an operation (positive mode)."""
    return operation(spec, path, method).as_strategy().map(lambda case: case.body)


def contract_query(spec: str, path: str, method: str) -> st.SearchStrategy[dict[str, Any]]:
    """Query parameters schemathesis generates for an operation (positive mode)."""
    return operation(spec, path, method).as_strategy().map(lambda case: dict(case.query or {}))
