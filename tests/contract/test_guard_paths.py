"""Guards read as flows write them (issue 18): outcome tests mixed with variable tests,
null checks of mapped variables, re-prompt loops, two variables, flags through a SubFlow.

Each case is a small flow in the shape real IVRs take; what a test asserts is which values
get to the HTTP step (the guard) and what the consumer check then says about the request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.contract.consumer import check_consumer
from harness.contract.guards import guards_for_step
from harness.contract.matching import NamedSpec
from harness.contract.openapi import load_spec
from harness.flow.loader import load_flow_set
from harness.flow.model import FlowSet
from tests.fixtures.flows import HARDENED, flow_set

SPEC = """\
openapi: 3.0.3
info: {title: Shop, version: '1'}
servers: [{url: 'https://shop.example'}]
components:
  parameters:
    Pin: {name: pin, in: path, required: true, schema: {type: string, pattern: '^[0-9]{4}$'}}
paths:
  /pins/{pin}:
    get:
      parameters: [{$ref: '#/components/parameters/Pin'}]
      responses:
        '200':
          description: the items, maybe none
          content:
            application/json:
              schema:
                type: object
                properties:
                  items: {type: array, items: {type: object, properties: {id: {type: string}}}}
              example: {items: [{id: it-1}]}
  /orders:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [pin, item]
              properties:
                pin: {type: string, pattern: '^[0-9]{4}$'}
                item: {type: string}
                lang: {enum: [en, fr]}
      responses: {'201': {description: ok}}
"""


def _specs(tmp_path: Path) -> list[NamedSpec]:
    (tmp_path / "shop.yaml").write_text(SPEC)
    return [NamedSpec(name="shop.example", spec=load_spec(tmp_path / "shop.yaml"))]


def _steps(*steps: dict[str, Any]) -> FlowSet:
    return flow_set({"id": "shop", "name": "shop", "flowType": "IVR", "steps": list(steps)})


def _collect(nxt: str, variable: str = "pin") -> dict[str, Any]:
    config = {"variable": variable, "maxDigits": 4, "terminator": "#"}
    return {
        "id": f"ask-{variable}",
        "type": "CollectDigits",
        "configuration": config,
        "nextStepId": nxt,
    }


def _router(step_id: str, expression: str, towards: str, away: str) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "Condition",
        "configuration": {
            "conditions": [{"expression": expression, "nextStepId": towards}],
            "defaultStepId": away,
        },
    }


def _get_items(nxt: str) -> dict[str, Any]:
    mapping = {"item_id": "$.items && $.items.length > 0 ? $.items[0].id : null"}
    return {
        "id": "http-items",
        "type": "HTTPRequest",
        "configuration": {
            "url": "https://shop.example/pins/{{pin}}",
            "method": "GET",
            "timeout": 2000,
            "responseMapping": mapping,
        },
        "nextStepId": nxt,
    }


def _post_order(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "http-order",
        "type": "HTTPRequest",
        "configuration": {
            "url": "https://shop.example/orders",
            "method": "POST",
            "timeout": 2000,
            "body": body or {"pin": "{{pin}}", "item": "{{item_id}}"},
        },
        "nextStepId": "bye",
    }


BYE = {"id": "bye", "type": "Hangup", "configuration": {}}
PIN_OK = "matches(pin, '^[0-9]{4}$')"


def _guard(flows: FlowSet, step: str, variable: str) -> Any:
    flow = next(iter(flows))
    return guards_for_step(flows, flow, flow.step(step)).get(variable)  # type: ignore[arg-type]


def _errors(flows: FlowSet, tmp_path: Path) -> list[str]:
    report = check_consumer(flows, _specs(tmp_path), max_examples=30)
    assert report.internal_errors == ()
    return [f.line() for f in report.findings if f.severity == "error"]


def _shop(items_router: str) -> FlowSet:
    """ask-pin -> guard -> GET items -> router(items_router) -> POST order."""
    return _steps(
        _collect("check-pin"),
        _router("check-pin", PIN_OK, "http-items", "bye"),
        _get_items("items-router"),
        _router("items-router", items_router, "http-order", "bye"),
        _post_order(),
        BYE,
    )


def test_an_outcome_test_and_a_null_check_of_a_mapped_variable_narrow_it(tmp_path: Path) -> None:
    flows = _shop("http_outcome == 'success' && item_id != null")
    guard = _guard(flows, "http-order", "item_id")
    assert guard is not None and guard.routers == ("items-router",)
    assert guard.admits("it-1") and not guard.admits(None)
    assert _errors(flows, tmp_path) == []


def test_without_the_null_check_the_documented_empty_answer_reaches_the_post(
    tmp_path: Path,
) -> None:
    """`items: []` is documented: the mapping gives null, which the POST sends as the item."""
    (error,) = _errors(_shop("http_outcome == 'success'"), tmp_path)
    assert "shop/http-order" in error and "/item: None is not of type 'string'" in error
    assert "item_id=null" in error


def test_an_or_of_outcome_and_variable_lets_null_through(tmp_path: Path) -> None:
    flows = _shop("http_outcome == 'success' || item_id != null")
    assert _guard(flows, "http-order", "item_id").admits(None)
    (error,) = _errors(flows, tmp_path)
    assert "/item: None is not of type 'string'" in error


def test_a_re_prompt_loop_keeps_its_guard(tmp_path: Path) -> None:
    flows = _steps(
        _collect("check-pin"),
        _router("check-pin", PIN_OK, "http-items", "again"),
        {
            "id": "again",
            "type": "Play",
            "configuration": {"prompt": "Again."},
            "nextStepId": "ask-pin",
        },
        _get_items("bye"),
        BYE,
    )
    guard = _guard(flows, "http-items", "pin")
    assert guard is not None
    assert guard.admits("1234") and not guard.admits("12*4") and not guard.admits("")
    assert _errors(flows, tmp_path) == []


def test_a_loop_that_keeps_the_value_guards_nothing(tmp_path: Path) -> None:
    """Back to the router without asking again: the same pin goes round, then on to the
    step by the counter's branch -- so any pin reaches it."""
    flows = _steps(
        _collect("check-pin"),
        _router("check-pin", PIN_OK, "http-items", "count"),
        {
            "id": "count",
            "type": "DataAPI",
            "configuration": {
                "operation": "evaluate",
                "expression": "tries + 1",
                "resultVariable": "tries",
            },
            "nextStepId": "enough",
        },
        _router("enough", "tries < 3", "check-pin", "http-items"),
        _get_items("bye"),
        BYE,
    )
    assert _guard(flows, "http-items", "pin").admits("12*4")
    (error,) = _errors(flows, tmp_path)
    assert "path parameter 'pin'" in error


def test_a_guard_over_two_variables_narrows_both(tmp_path: Path) -> None:
    body = {"pin": "{{pin}}", "item": "x", "lang": "{{lang}}"}
    flows = _steps(
        _collect("ask-lang"),
        _collect("check", variable="lang"),
        _router("check", f"{PIN_OK} && (lang == 'en' || lang == 'fr')", "http-order", "bye"),
        _post_order(body),
        BYE,
    )
    pin, lang = (_guard(flows, "http-order", v) for v in ("pin", "lang"))
    assert pin.admits("0000") and not pin.admits("00")
    assert lang.admits("en") and not lang.admits("de")
    # lang is keys a caller presses: no value of it gets past, and the check says so.
    report = check_consumer(flows, _specs(tmp_path), max_examples=10)
    (warning,) = [f for f in report.findings if f.severity == "warning"]
    assert (
        "no value of lang (caller DTMF) gets past its guard (guarded by check)" in warning.message
    )
    assert not report.failed and report.internal_errors == ()


def test_a_flag_set_after_a_null_check_in_a_sub_flow_guards_the_parents_next_step() -> None:
    flows = load_flow_set(HARDENED)
    ticket = flows.get("ticket-submit")
    assert ticket is not None
    guard = guards_for_step(flows, ticket, ticket.steps[0])["customer_profile"]
    assert guard.routers == ("error-router",)
    assert guard.admits({"id": "acc-1"}) and not guard.admits(None)


def test_a_second_way_around_the_guard_lets_its_own_values_through(tmp_path: Path) -> None:
    flows = _steps(
        _collect("menu"),
        _router("menu", "pin == ''", "http-items", "check-pin"),
        _router("check-pin", PIN_OK, "http-items", "bye"),
        _get_items("bye"),
        BYE,
    )
    guard = _guard(flows, "http-items", "pin")
    assert guard.routers == ("check-pin", "menu")
    assert guard.admits("") and guard.admits("1234") and not guard.admits("12")
    (error,) = _errors(flows, tmp_path)
    assert "required path parameter 'pin' is missing" in error


def test_a_ref_parameter_is_checked_like_an_inline_one(tmp_path: Path) -> None:
    flows = _steps(
        _collect("not-empty"), _router("not-empty", "pin != ''", "http-items", "bye"),
        _get_items("bye"), BYE,
    )  # fmt: skip
    report = check_consumer(flows, _specs(tmp_path), max_examples=30)
    assert not [f for f in report.findings if f.check == "unsupported"]
    (error,) = [f.line() for f in report.findings if f.severity == "error"]
    assert "path parameter 'pin'" in error and "'^[0-9]{4}$'" in error


def test_a_router_after_a_second_http_step_narrows_its_mapped_variable(tmp_path: Path) -> None:
    first = {**_get_items("http-items"), "id": "http-first"}
    first["configuration"] = {**first["configuration"], "responseMapping": {}}
    flows = _steps(
        _collect("check-pin"),
        _router("check-pin", PIN_OK, "http-first", "bye"),
        first,
        _get_items("items-router"),
        _router(
            "items-router", "http_outcome == 'success' && item_id != null", "http-order", "bye"
        ),
        _post_order(),
        BYE,
    )
    guard = _guard(flows, "http-order", "item_id")
    assert guard.admits("it-1") and not guard.admits(None)
    assert _errors(flows, tmp_path) == []
