"""The whitelisted expression functions, one table each."""

from __future__ import annotations

import time
from typing import Any

import jwt
import phonenumbers
import pytest

from harness.flow.expr import ExpressionError, Scope, evaluate
from harness.flow.expr.functions import (
    FUNCTIONS,
    coalesce,
    current_timestamp,
    decode_jwt,
    encode_uri_component,
    format_phone_number,
    parse_json,
    validate_e164,
)


def test_the_whitelist() -> None:
    assert set(FUNCTIONS) == {
        "formatPhoneNumber",
        "validateE164",
        "encodeUriComponent",
        "encodeURIComponent",
        "parseJson",
        "decodeJwt",
        "currentTimestamp",
        "coalesce",
        "matches",
    }
    with pytest.raises(TypeError):
        FUNCTIONS["eval"] = eval  # type: ignore[index]


# --- formatPhoneNumber -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("+1 415 555 2671",), "+14155552671"),
        (("(415) 555-2671",), "+14155552671"),
        (("415.555.2671",), "+14155552671"),
        (("415-555-2671",), "+14155552671"),
        (("4155552671",), "+14155552671"),
        (("1 415 555 2671",), "+14155552671"),
        (("+14155552671",), "+14155552671"),
        (("011 44 20 7946 0958",), "+442079460958"),
        (("0044 20 7946 0958", "GB"), "+442079460958"),
        (("020 7946 0958", "GB"), "+442079460958"),
        (("020 7946 0958", "gb"), "+442079460958"),
        (("+44 20 7946 0958", "US"), "+442079460958"),
        (("0044 20 7946 0958",), ""),  # 00 is not the US international prefix
        (("1234567890",), ""),  # the guide's DTMF: area code 123 does not exist
        (("",), ""),
        ((None,), ""),
        ((4155552671,), "+14155552671"),
        ((True,), ""),
        (([4155552671],), ""),
        (("it's",), ""),
        (("+",), ""),
        (("٤١٥٥٥٥٢٦٧١",), "+14155552671"),  # Arabic-Indic digits are digits to libphonenumber
        (("4155552671", "ZZ"), ""),
        (("4155552671", None), "+14155552671"),
        (("4" * 300,), ""),
    ],
)
def test_format_phone_number(args: tuple[Any, ...], expected: str) -> None:
    assert format_phone_number(*args) == expected


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_every_regions_example_number_formats_to_its_e164(region: str) -> None:
    example = phonenumbers.example_number(region)
    assert example is not None
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    assert format_phone_number(e164) == e164
    assert format_phone_number(national, region) == e164


def test_a_trunk_prefix_after_the_country_code_is_dropped() -> None:
    assert format_phone_number("+200200000000") == "+20200000000"


# --- validateE164 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("+14155552671", True),
        ("+12", True),
        ("+123456789012345", True),  # 15 digits
        ("+1234567890123456", False),  # 16 digits
        ("+1", False),
        ("+04155552671", False),
        ("14155552671", False),
        ("+1 415 555 2671", False),
        ("+14155552671\n", False),  # the `$` loophole
        ("\n+14155552671", False),
        ("+1415555267١", False),  # a non-ASCII digit
        ("", False),
        (None, False),
        (14155552671, False),
        (["+14155552671"], False),
    ],
)
def test_validate_e164(value: Any, valid: bool) -> None:
    assert validate_e164(value) is valid


# --- encodeUriComponent ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abcXYZ019", "abcXYZ019"),
        ("-_.!~*'()", "-_.!~*'()"),
        (" ", "%20"),
        ("a b&c=d/e?f#g", "a%20b%26c%3Dd%2Fe%3Ff%23g"),
        (";,/?:@&=+$#", "%3B%2C%2F%3F%3A%40%26%3D%2B%24%23"),
        ("%", "%25"),
        ("é", "%C3%A9"),
        ("€", "%E2%82%AC"),
        ("😀", "%F0%9F%98%80"),
        ("\ud83d\ude00", "%F0%9F%98%80"),  # a surrogate pair is one character, as in JS
        ("\x00\n", "%00%0A"),
        ("", ""),
        (None, ""),
        (12, "12"),
        (1.5, "1.5"),
        (True, "true"),
        ({"a": 1}, "%7B%22a%22%3A1%7D"),
    ],
)
def test_encode_uri_component_matches_javascript(value: Any, expected: str) -> None:
    assert encode_uri_component(value) == expected


@pytest.mark.parametrize("value", ["\ud800", "a\udc00b", "\ude00\ud83d"])
def test_encode_uri_component_rejects_lone_surrogates(value: str) -> None:
    with pytest.raises(ExpressionError, match="URI malformed"):
        encode_uri_component(value)


# --- parseJson ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"a": [1, 2]}', {"a": [1, 2]}),
        ("[]", []),
        ("1.5", 1.5),
        ('"s"', "s"),
        ("null", None),
        ("true", True),
        ("  7 ", 7),
        ("", None),
        ("{", None),
        ("{'a': 1}", None),
        ("NaN", None),
        ("Infinity", None),
        ("[" * 100_000, None),
        (None, None),
        (5, 5),
        ({"a": 1}, {"a": 1}),
        ([1, "x"], [1, "x"]),
    ],
)
def test_parse_json(value: Any, expected: Any) -> None:
    assert parse_json(value) == expected


# --- decodeJwt ---------------------------------------------------------------------------

KEY = "k" * 32


def test_decode_jwt_returns_claims_without_verifying() -> None:
    token = jwt.encode({"sub": "svc", "exp": 1, "scope": "crm:read"}, KEY, algorithm="HS256")
    assert decode_jwt(token) == {"sub": "svc", "exp": 1, "scope": "crm:read"}
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert decode_jwt(tampered) == {"sub": "svc", "exp": 1, "scope": "crm:read"}


def test_decode_jwt_reads_exp_for_the_guides_preflight_check() -> None:
    token = jwt.encode({"exp": 1_700_000_030}, KEY, algorithm="HS256")
    s = Scope(variables={"cached_token": token}, now_ms=lambda: 1_700_000_000_000)
    assert evaluate("decodeJwt(cached_token).exp", s) == 1_700_000_030
    assert evaluate("decodeJwt(cached_token).exp * 1000 - currentTimestamp() < 60000", s)
    assert evaluate("decodeJwt(garbage).exp", Scope(variables={"garbage": "x.y"})) is None


@pytest.mark.parametrize(
    "value", ["", "not a jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.WzEsMl0.sig", None, 5, {"a": 1}]
)
def test_decode_jwt_is_null_for_anything_else(value: Any) -> None:
    assert decode_jwt(value) is None


# --- currentTimestamp and coalesce -------------------------------------------------------


def test_current_timestamp_is_wall_clock_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    now = current_timestamp()
    assert before <= now <= time.time_ns() // 1_000_000


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), None),
        ((None,), None),
        ((None, 0, 1), 0),
        ((None, "", "x"), ""),
        ((False, None), False),
        ((None, None, [1]), [1]),
    ],
)
def test_coalesce_returns_the_first_non_null(args: tuple[Any, ...], expected: Any) -> None:
    assert coalesce(*args) == expected


@pytest.mark.parametrize(
    ("text", "pattern", "expected"),
    [
        ("12345678", "^[0-9]{8}$", True),
        ("1234567*", "^[0-9]{8}$", False),
        ("a1", "[0-9]", True),  # a search, as JavaScript's RegExp.test
        ("١٢", "^\\d+$", False),  # ASCII classes: Arabic-Indic digits are not \\d
        (None, ".*", False),
        ("x", "(", False),  # a pattern that does not compile rejects the value
    ],
)
def test_matches_is_regexp_test(text: object, pattern: str, expected: bool) -> None:
    assert evaluate("matches(t, p)", Scope(variables={"t": text, "p": pattern})) is expected
