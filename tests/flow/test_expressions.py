"""Parser and evaluator of flow expressions: grammar, JS semantics, the guide's cases."""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import HarnessError
from harness.flow.expr import (
    MAX_DEPTH,
    Binary,
    Call,
    Conditional,
    ExpressionError,
    Index,
    JsonPath,
    Literal,
    Logical,
    Member,
    Scope,
    Unary,
    Var,
    evaluate,
    evaluate_condition,
    evaluate_mapping,
    is_pure_jsonpath,
    parse,
    variables_used,
)

a, b, c, d = Var("a"), Var("b"), Var("c"), Var("d")


def lit(value: Any) -> Literal:
    return Literal(value)


def scope(response: Any = None, **variables: Any) -> Scope:
    if response is None:
        return Scope(variables=variables)
    return Scope(variables=variables, response=response)


# --- parser -----------------------------------------------------------------------------

PARSE_TABLE = [
    # literals
    ("1", lit(1)),
    ("1.5", lit(1.5)),
    ("2e3", lit(2000)),
    ("1.25E-2", lit(0.0125)),
    ("'single'", lit("single")),
    ('"double"', lit("double")),
    (r"'it\'s'", lit("it's")),
    (r'"say \"hi\""', lit('say "hi"')),
    (r"'a\nb\tc\\d'", lit("a\nb\tc\\d")),
    (r"'\u00e9\x41'", lit("éA")),
    (r"'\q'", lit("q")),
    ("true", lit(True)),
    ("false", lit(False)),
    ("null", lit(None)),
    # names, members, indexes
    ("customer_id", Var("customer_id")),
    ("_x1", Var("_x1")),
    ("a.b", Member(a, "b")),
    ("a.b.c", Member(Member(a, "b"), "c")),
    ("a[0]", Index(a, lit(0))),
    ("a['k']", Index(a, lit("k"))),
    ("a[b][c]", Index(Index(a, b), c)),
    ("a.b[0].length", Member(Index(Member(a, "b"), lit(0)), "length")),
    ("a.null", Member(a, "null")),
    # JSONPath
    ("$", JsonPath("$")),
    ("$.data[0]", JsonPath("$.data[0]")),
    ("$.data.length", Member(JsonPath("$.data"), "length")),
    ("$.data.lengthy", JsonPath("$.data.lengthy")),
    ("$..id", JsonPath("$..id")),
    ("$.a.*", JsonPath("$.a.*")),
    ("$['a b'][1]", JsonPath("$['a b'][1]")),
    ("$.x[?@.n > 1]", JsonPath("$.x[?@.n > 1]")),
    (
        "$.data[0].attributes.support_tickets > 0",
        Binary(">", JsonPath("$.data[0].attributes.support_tickets"), lit(0)),
    ),
    # unary
    ("!a", Unary("!", a)),
    ("-a", Unary("-", a)),
    ("+a", Unary("+", a)),
    ("!!a", Unary("!", Unary("!", a))),
    ("-a.b", Unary("-", Member(a, "b"))),
    ("-a * b", Binary("*", Unary("-", a), b)),
    # precedence
    ("a + b * c", Binary("+", a, Binary("*", b, c))),
    ("a * b + c", Binary("+", Binary("*", a, b), c)),
    ("(a + b) * c", Binary("*", Binary("+", a, b), c)),
    ("a + b < c", Binary("<", Binary("+", a, b), c)),
    ("a < b == c", Binary("==", Binary("<", a, b), c)),
    ("a == b && c", Logical("&&", Binary("==", a, b), c)),
    ("a || b && c", Logical("||", a, Logical("&&", b, c))),
    ("a && b || c", Logical("||", Logical("&&", a, b), c)),
    ("a || b ? c : d", Conditional(Logical("||", a, b), c, d)),
    ("a ? b : c || d", Conditional(a, b, Logical("||", c, d))),
    ("!a == b", Binary("==", Unary("!", a), b)),
    ("a % b / c", Binary("/", Binary("%", a, b), c)),
    # associativity
    ("a - b - c", Binary("-", Binary("-", a, b), c)),
    ("a / b / c", Binary("/", Binary("/", a, b), c)),
    ("a == b != c", Binary("!=", Binary("==", a, b), c)),
    ("a && b && c", Logical("&&", Logical("&&", a, b), c)),
    ("a ? b : c ? d : a", Conditional(a, b, Conditional(c, d, a))),
    ("a ? b ? c : d : a", Conditional(a, Conditional(b, c, d), a)),
    # every binary operator
    *[
        (f"a {op} b", Binary(op, a, b))
        for op in ["+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "===", "!=="]
    ],
    # calls
    ("currentTimestamp()", Call("currentTimestamp", ())),
    ("coalesce(a, b, 1)", Call("coalesce", (a, b, lit(1)))),
    ("formatPhoneNumber(a, 'GB')", Call("formatPhoneNumber", (a, lit("GB")))),
    ("decodeJwt(a).exp", Member(Call("decodeJwt", (a,)), "exp")),
    ("  a\n+\tb  ", Binary("+", a, b)),
]


@pytest.mark.parametrize(("source", "tree"), PARSE_TABLE, ids=[s for s, _ in PARSE_TABLE])
def test_parse_builds_the_expected_tree(source: str, tree: object) -> None:
    assert parse(source) == tree


PARSE_ERRORS = [
    # (source, message fragment, 1-based column)
    ("(1 + 2))", "unexpected ')'", 8),
    ("1 +", "unexpected end of expression", 4),
    ("", "unexpected end of expression", 1),
    ("(1 + 2", "expected ')' but found end of expression", 7),
    ("a b", "unexpected identifier 'b'", 3),
    ("a = 1", "unexpected '=' (did you mean '=='?)", 3),
    ("a & b", "did you mean '&&'?", 3),
    ("a | b", "did you mean '||'?", 3),
    ("'open", "unterminated string", 1),
    ("'line\nbreak'", "unterminated string", 1),
    (r"'\u12'", "invalid \\u escape", 2),
    (
        "fomatPhoneNumber(x)",
        "unknown function 'fomatPhoneNumber' (did you mean 'formatPhoneNumber'?)",
        1,
    ),
    ("eval('1')", "unknown function 'eval'", 1),
    ("x + __import__('os')", "unknown function '__import__'", 5),
    ("formatPhoneNumber()", "formatPhoneNumber() takes 1 to 2 arguments, got 0", 1),
    ("currentTimestamp(1)", "currentTimestamp() takes 0 arguments, got 1", 1),
    ("a.b(1)", "only whitelisted functions can be called", 4),
    ("(a)(1)", "only whitelisted functions can be called", 4),
    ("a.", "expected a field name after '.' but found end of expression", 3),
    ("a.1", "expected a field name after '.' but found number '1'", 3),
    ("a ? b", "expected ':'", 6),
    ("a[1", "expected ']'", 4),
    ("f(1,)", "unexpected ')'", 5),
    ("1 # 2", "unexpected '#'", 3),
    ("x + $.a[?@.b ==]", "invalid JSONPath: unexpected end of expression", 16),
    ("$[", "unbalanced '['", 2),
    ("$.data[0", "unbalanced '['", 7),
]


@pytest.mark.parametrize(("source", "fragment", "column"), PARSE_ERRORS)
def test_parse_errors_name_the_problem_and_its_column(
    source: str, fragment: str, column: int
) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(source)
    error = info.value
    assert fragment in str(error)
    assert error.source == source
    assert error.offset == column - 1
    assert str(error).startswith(f"expression '{source}': ")
    assert str(error).endswith(f" at column {column}")


def test_expression_error_is_a_harness_error() -> None:
    assert issubclass(ExpressionError, HarnessError)


def test_error_message_format_matches_the_house_style() -> None:
    with pytest.raises(
        ExpressionError,
        match=r"^expression '\(1 \+ 2\)\)': unexpected '\)' "
        r"at column 8$",
    ):
        parse("(1 + 2))")


def test_expression_error_survives_pickling() -> None:
    import pickle

    with pytest.raises(ExpressionError) as info:
        parse("1 +")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (str(copy), copy.source, copy.offset) == (str(info.value), "1 +", 3)


def test_long_sources_are_shortened_in_the_message() -> None:
    source = "a + " * 60 + ")"
    with pytest.raises(ExpressionError) as info:
        parse(source)
    assert "..." in str(info.value)
    assert info.value.source == source


@pytest.mark.parametrize(
    "source",
    ["(" * 500 + "1" + ")" * 500, "!" * 500 + "a", " + ".join(["1"] * 500), "a" + ".b" * 500],
)
def test_deep_nesting_is_an_expression_error_not_a_recursion_error(source: str) -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse(source)


def test_nesting_up_to_the_limit_parses_and_evaluates() -> None:
    source = "(" * (MAX_DEPTH - 5) + "1" + ")" * (MAX_DEPTH - 5)
    assert evaluate(source, scope()) == 1
    assert evaluate(" + ".join(["1"] * (MAX_DEPTH - 1)), scope()) == MAX_DEPTH - 1


def test_parse_is_cached() -> None:
    assert parse("a + 1") is parse("a + 1")


# --- evaluator: the JS semantics table ---------------------------------------------------

VARS: dict[str, Any] = {
    "zero": 0,
    "one": 1,
    "empty": "",
    "text": "abc",
    "digits": "200",
    "nothing": None,
    "yes": True,
    "no": False,
    "items": [1, 2, 3],
    "none": [],
    "obj": {"id": 7, "name": "Ann", "length": 99, "nested": {"k": [10, 20]}},
    "bare": {},
}

EVAL_TABLE: list[tuple[str, Any]] = [
    # literals and variables
    ("42", 42),
    ("1.5", 1.5),
    ("'x'", "x"),
    ("null", None),
    ("unknown_variable", None),
    ("obj.id", 7),
    ("obj.nested.k[1]", 20),
    ("obj['name']", "Ann"),
    # null-safety
    ("nothing.field", None),
    ("unknown.a.b.c", None),
    ("nothing[0]", None),
    ("items[3]", None),
    ("items[-1]", None),
    ("items[1.5]", None),
    ("items[1.0]", 2),
    ("text[1]", "b"),
    ("one.field", None),
    ("text.field", None),
    ("items.field", None),
    ("obj.missing.deeper", None),
    ("obj[nothing]", None),
    # length
    ("text.length", 3),
    ("items.length", 3),
    ("none.length", 0),
    ("nothing.length", None),
    ("one.length", None),
    ("bare.length", None),
    ("obj.length", 99),
    ("items['length']", 3),
    ("'héllo'.length", 5),
    # truthiness via !
    *[
        (f"!{name}", expected)
        for name, expected in [
            ("zero", True),
            ("one", False),
            ("empty", True),
            ("text", False),
            ("nothing", True),
            ("yes", False),
            ("no", True),
            ("none", False),
            ("bare", False),
        ]
    ],
    ("!(0/0)", True),
    # && and || return operands
    ("zero || 'fallback'", "fallback"),
    ("text || 'fallback'", "abc"),
    ("empty && crash.never", ""),
    ("one && 'second'", "second"),
    ("nothing || zero || empty", ""),
    ("none && 'truthy array'", "truthy array"),
    ("bare || 'x'", {}),
    # ternary
    ("yes ? 'a' : 'b'", "a"),
    ("empty ? 'a' : 'b'", "b"),
    ("none ? 'a' : 'b'", "a"),
    # + : concatenation or addition
    ("1 + 2", 3),
    ("'a' + 1", "a1"),
    ("1 + '2'", "12"),
    ("'n=' + 1.5", "n=1.5"),
    ("'x' + nothing", "x"),
    ("'x' + yes", "xtrue"),
    ("'v' + 2.0", "v2"),
    ("'o' + obj.nested", 'o{"k":[10,20]}'),
    ("items + ''", "[1,2,3]"),
    ("nothing + 1", 1),
    ("yes + yes", 2),
    ("0.1 + 0.2", 0.30000000000000004),
    # - * / %
    ("7 - 10", -3),
    ("'10' - 3", 7),
    ("'3' * '4'", 12),
    ("'abc' * 2", None),
    ("7 / 2", 3.5),
    ("6 / 3", 2),
    ("1 / 0", None),
    ("0 / 0", None),
    ("7 % 3", 1),
    ("-7 % 3", -1),
    ("7 % -3", 1),
    ("7.5 % 2", 1.5),
    ("5 % 0", None),
    ("1e308 * 10", None),
    ("nothing * 5", 0),
    ("obj * 1", None),
    # unary arithmetic
    ("-'5'", -5),
    ("+'  12  '", 12),
    ("+''", 0),
    ("+'0x1A'", 26),
    ("+'1_000'", None),
    ("+'inf'", None),
    ("-yes", -1),
    ("-nothing", 0),
    ("+items", None),
    # relational
    ("1 < 2", True),
    ("2 <= 2", True),
    ("3 > 4", False),
    ("4 >= 4", True),
    ("'apple' < 'banana'", True),
    ("'Z' < 'a'", True),
    ("'10' < '9'", True),
    ("'10' < 9", False),
    ("nothing < 500", True),
    ("nothing >= 0", True),
    ("nothing > -1", True),
    ("'abc' < 1", False),
    ("'abc' >= 1", False),
    ("yes > 0", True),
    ("items > 0", False),
    # loose equality
    ("1 == 1", True),
    ("1 == 1.0", True),
    ("'200' == 200", True),
    ("digits == 200", True),
    ("'' == 0", True),
    ("'a' == 'a'", True),
    ("'a' == 'b'", False),
    ("nothing == null", True),
    ("nothing == 0", False),
    ("nothing == ''", False),
    ("nothing == false", False),
    ("true == 1", True),
    ("false == 0", True),
    ("true == '1'", True),
    ("false == ''", True),
    ("true == 'true'", False),
    ("(0/0) == (0/0)", True),
    ("items == items", True),
    ("obj.nested == obj.nested", True),
    ("none == ''", False),
    ("1 != 2", True),
    ("'200' != 200", False),
    ("nothing != 0", True),
    # strict equality
    ("'200' === 200", False),
    ("200 === 200.0", True),
    ("true === 1", False),
    ("nothing === null", True),
    ("'a' !== 'a'", False),
    ("1 !== '1'", True),
    # functions
    ("coalesce(nothing, unknown, 'x', 'y')", "x"),
    ("coalesce()", None),
    ("coalesce(nothing, zero)", 0),
    ("formatPhoneNumber('(415) 555-2671')", "+14155552671"),
    ("validateE164(formatPhoneNumber('415.555.2671'))", True),
    ("encodeUriComponent('a b&c')", "a%20b%26c"),
    ("parseJson('{\"a\": [1]}').a[0]", 1),
    ("parseJson('nope')", None),
]


@pytest.mark.parametrize(("source", "expected"), EVAL_TABLE, ids=[s for s, _ in EVAL_TABLE])
def test_evaluate_follows_the_js_semantics_table(source: str, expected: Any) -> None:
    result = evaluate(source, Scope(variables=VARS))
    assert result == expected
    assert type(result) is type(expected)


def test_current_timestamp_reads_the_scope_clock() -> None:
    frozen = Scope(variables={}, now_ms=lambda: 1_700_000_000_000)
    assert evaluate("currentTimestamp()", frozen) == 1_700_000_000_000
    assert evaluate("currentTimestamp() - 1000 > 0", frozen) is True


def test_default_clock_is_the_wall_clock() -> None:
    import time

    before = time.time_ns() // 1_000_000
    assert before <= evaluate("currentTimestamp()", scope()) <= before + 60_000


def test_function_errors_are_located_at_the_call() -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate("'x' + encodeUriComponent(s)", Scope(variables={"s": "\ud800"}))
    assert info.value.offset == 6
    assert "URI malformed" in str(info.value)
    assert "at column 7" in str(info.value)


def test_the_mapping_of_variables_is_not_mutated() -> None:
    variables = {"obj": {"a": [1]}}
    evaluate("obj.a[0] + obj.b", Scope(variables=variables))
    assert variables == {"obj": {"a": [1]}}


# --- $ paths --------------------------------------------------------------------------

GUARD = "$.data && $.data.length > 0 ? $.data[0] : null"


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ({"data": []}, None),
        ({"data": [{"id": 1}]}, {"id": 1}),
        ({"data": [{"id": 1}, {"id": 2}]}, {"id": 1}),
        ({}, None),
        ({"data": None}, None),
        ({"data": "text"}, None),  # truthy, length 4, but RFC 9535 never indexes a string
        ([], None),
        ("not json", None),
        (None, None),
    ],
)
def test_the_guides_guard_expression(response: Any, expected: Any) -> None:
    assert evaluate(GUARD, Scope(variables={}, response=response)) == expected
    assert evaluate_mapping(GUARD, Scope(variables={}, response=response)) == expected


def test_guard_without_a_response_context_is_null() -> None:
    assert evaluate(GUARD, scope()) is None
    assert evaluate("$", scope()) is None


def test_dollar_alone_is_the_whole_response() -> None:
    assert evaluate("$", Scope(variables={}, response={"a": 1})) == {"a": 1}
    assert evaluate("$.length", Scope(variables={}, response=[1, 2])) == 2


def test_path_index_of_an_empty_array_is_null() -> None:
    assert evaluate("$.data[0]", Scope(variables={}, response={"data": []})) is None
    assert evaluate("$.data[0].id", Scope(variables={}, response={"data": []})) is None


def test_a_variable_index_into_a_path_needs_parentheses() -> None:
    s = Scope(variables={"i": 1}, response={"data": ["a", "b"]})
    assert evaluate("($.data)[i]", s) == "b"
    with pytest.raises(ExpressionError, match="invalid JSONPath"):
        evaluate("$.data[i]", s)


def test_paths_mix_with_operators_and_variables() -> None:
    response = {"data": [{"attributes": {"support_tickets": 2, "loyalty_tier": "GOLD"}}]}
    s = Scope(variables={"tier": "GOLD"}, response=response)
    assert evaluate("$.data[0].attributes.loyalty_tier == tier", s) is True
    assert evaluate("$.data[0].attributes.support_tickets * 10", s) == 20
    assert evaluate("$..loyalty_tier", s) == "GOLD"
    assert (
        evaluate("$.data[?@.attributes.support_tickets > 1].attributes.loyalty_tier", s) == "GOLD"
    )


# --- response mapping ------------------------------------------------------------------

GUIDE_MAPPING = {
    "customer_profile": "$.data[0]",
    "integration_status": "$.status",
    "loyalty_tier": "$.data[0].attributes.loyalty_tier",
    "has_open_tickets": "$.data[0].attributes.support_tickets > 0",
}


def _map(response: Any) -> dict[str, Any]:
    s = Scope(variables={}, response=response)
    return {name: evaluate_mapping(value, s) for name, value in GUIDE_MAPPING.items()}


def test_guide_mapping_with_a_customer() -> None:
    profile = {"id": "A1", "attributes": {"loyalty_tier": "PLATINUM", "support_tickets": 3}}
    assert _map({"status": "ok", "data": [profile]}) == {
        "customer_profile": profile,
        "integration_status": "ok",
        "loyalty_tier": "PLATINUM",
        "has_open_tickets": True,
    }


@pytest.mark.parametrize("response", [{"data": []}, {}, {"data": None}, [], 5, "x", None])
def test_guide_mapping_never_raises_for_missing_data(response: Any) -> None:
    mapped = _map(response)
    assert mapped["customer_profile"] is None
    assert mapped["loyalty_tier"] is None
    # null > 0 is false, as in JS
    assert mapped["has_open_tickets"] is False


def test_mapping_without_response_context_is_null() -> None:
    assert evaluate_mapping("$.data[0]", scope()) is None


def test_mapping_of_a_malformed_value_raises() -> None:
    with pytest.raises(ExpressionError):
        evaluate_mapping("$.data[0] >", Scope(variables={}, response={}))


@pytest.mark.parametrize(
    ("value", "pure"),
    [
        ("$", True),
        ("$.data[0]", True),
        ("  $.data[0].attributes.loyalty_tier ", True),
        ("$..id", True),
        ("$['a b']", True),
        ("$.x[?@.n > 1]", True),
        ("$.data.length", False),
        ("$.data[0].attributes.support_tickets > 0", False),
        (GUARD, False),
        ("data[0]", False),
        ("", False),
        ("$.[", False),
        ("$[", False),
        ("$.a b", False),
    ],
)
def test_is_pure_jsonpath(value: str, pure: bool) -> None:
    assert is_pure_jsonpath(value) is pure


# --- substitution first: the platform's order --------------------------------------------

ERROR_ROUTER = [
    ("{{http_status_code}} >= 500", "circuit-breaker-increment"),
    ("{{http_status_code}} == 401", "refresh-auth-token"),
    ("{{http_status_code}} == 404", "prompt-input-correction"),
    ("{{http_status_code}} < 500", "process-success"),
]


def route(status: Any) -> str | None:
    s = Scope(variables={"http_status_code": status})
    for expression, target in ERROR_ROUTER:
        if evaluate_condition(expression, s):
            return target
    return None


@pytest.mark.parametrize(
    ("status", "branch"),
    [
        (0, "process-success"),  # a timeout: no response, status 0 -- the guide's bug
        (200, "process-success"),
        (202, "process-success"),  # accepted, body not there yet
        (401, "refresh-auth-token"),
        (403, "process-success"),  # insufficient_scope treated as success
        (404, "prompt-input-correction"),
        (429, "process-success"),  # rate limited treated as success
        (500, "circuit-breaker-increment"),
        (503, "circuit-breaker-increment"),
    ],
)
def test_seed_error_router(status: int, branch: str) -> None:
    assert route(status) == branch


def test_error_router_with_a_null_status_is_a_parse_error() -> None:
    with pytest.raises(ExpressionError, match=r"expression ' >= 500': unexpected '>='"):
        route(None)


def test_condition_substitution_is_textual() -> None:
    s = Scope(variables={"http_status_code": 0})
    assert evaluate_condition("{{http_status_code}} < 500", s) is True
    # Without substitution the bare expression reads the variable: same answer here.
    assert evaluate("http_status_code < 500", s) is True
    # A string value becomes code: '2+2' is pasted, then evaluated.
    assert evaluate_condition("{{x}} * 10", Scope(variables={"x": "2+2"})) == 22


def test_dtmf_with_a_quote_breaks_the_transform_expression() -> None:
    expression = (
        "formatPhoneNumber('{{dtmf_input}}') + (validateE164('{{dtmf_input}}') ? '' : 'INVALID')"
    )
    assert evaluate_condition(expression, Scope(variables={"dtmf_input": "4155552671"})) == (
        "+14155552671INVALID"
    )
    with pytest.raises(ExpressionError) as info:
        evaluate_condition(expression, Scope(variables={"dtmf_input": "it's"}))
    assert info.value.source.startswith("formatPhoneNumber('it's')")


def test_injection_can_call_other_functions() -> None:
    payload = "') + coalesce('injected"
    s = Scope(variables={"dtmf_input": payload})
    assert evaluate_condition("formatPhoneNumber('{{dtmf_input}}')", s) == "injected"


def test_condition_placeholders_see_the_response() -> None:
    s = Scope(variables={}, response={"n": 3})
    assert evaluate_condition("{{$.n}} + 1", s) == 4


# --- variables_used ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("a + b.c[d]", {"a", "b", "d"}),
        ("coalesce(x, 'y') ? z : $.w", {"x", "z"}),
        ("1 + 2", set()),
        ("{{http_status_code}} >= 500", {"http_status_code"}),
        ("formatPhoneNumber('{{dtmf_input}}') + x", {"dtmf_input", "x"}),
        (
            "https://api.example.com/v2?phone={{phone_number}}&id={{ids[i]}}",
            {"phone_number", "ids", "i"},
        ),
        ('{"account_id": "{{customer_profile.id}}"}', {"customer_profile"}),
        ("{{loyalty_tier == 'PLATINUM' ? 'HIGH' : 'NORMAL'}}", {"loyalty_tier"}),
    ],
)
def test_variables_used(source: str, names: set[str]) -> None:
    assert variables_used(source) == names


def test_variables_used_rejects_a_broken_expression() -> None:
    with pytest.raises(ExpressionError):
        variables_used("a +")
    with pytest.raises(ExpressionError):
        variables_used("x {{a +}}")
