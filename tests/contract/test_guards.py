"""Guards the way flows write them narrow what the consumer check draws (issue 12)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.contract.consumer import check_consumer
from harness.contract.matching import NamedSpec
from harness.contract.openapi import load_spec
from harness.flow.loader import load_flow_set
from tests.fixtures.flows import flow_set

DATA = Path(__file__).parent / "data" / "order-status"
ORDER = json.loads((DATA / "guarded" / "order-status.json").read_text())


def _orders_spec() -> list[NamedSpec]:
    return [NamedSpec(name="api.shop.example", spec=load_spec(DATA / "orders.yaml"))]


def _errors(flows: Any, specs: list[NamedSpec] | None = None) -> list[str]:
    report = check_consumer(flows, specs or _orders_spec(), max_examples=40)
    return [f.line() for f in report.findings if f.severity == "error"]


def _with_guard(expression: str, *, pattern: str | None = None) -> tuple[Any, list[NamedSpec]]:
    doc = copy.deepcopy(ORDER)
    doc["steps"][1]["configuration"]["conditions"][0]["expression"] = expression
    specs = _orders_spec()
    if pattern is not None:
        spec_doc = specs[0].spec
        param = spec_doc.document["paths"]["/orders/{orderId}"]["get"]["parameters"][0]
        param["schema"] = {"type": "string", "pattern": pattern}
    return flow_set(doc), specs


def test_order_status_ivr_with_a_length_guard_passes() -> None:
    assert _errors(load_flow_set(DATA / "guarded")) == []


def test_the_same_ivr_without_the_guard_fails_naming_step_and_parameter() -> None:
    errors = _errors(load_flow_set(DATA / "unguarded"))
    assert len(errors) == 1
    assert "order-status/http-order-status" in errors[0]
    assert "required path parameter 'orderId' is missing" in errors[0]
    assert 'order_digits=""' in errors[0]


@pytest.mark.parametrize(
    "guard",
    [
        "!matches(order_digits, '^[0-9]{8}$')",
        "order_digits.length < 8 || !matches(order_digits, '^[0-9]+$')",
    ],
)
def test_a_regex_guard_satisfies_a_pattern_parameter(guard: str) -> None:
    flows, specs = _with_guard(guard, pattern="^[0-9]{8}$")
    assert _errors(flows, specs) == []


def test_a_length_guard_alone_does_not_satisfy_a_digits_pattern() -> None:
    # '*' is a key a caller can press: the length guard lets '1234567*' through.
    flows, specs = _with_guard("order_digits.length != 8", pattern="^[0-9]{8}$")
    errors = _errors(flows, specs)
    assert len(errors) == 1 and "does not match '^[0-9]{8}$'" in errors[0]


def test_a_guard_that_does_not_bound_the_length_is_not_mistaken_for_one() -> None:
    flows, _ = _with_guard("order_digits == '0'")
    assert any("missing" in e for e in _errors(flows))


def _patients(guarded: bool) -> Any:
    collect = {"variable": "patient_id", "maxDigits": 10, "terminator": "#"}
    steps: list[dict[str, Any]] = [
        {"id": "collect", "type": "CollectDigits", "configuration": collect},
        {
            "id": "http-slots",
            "type": "HTTPRequest",
            "configuration": {
                "url": "https://clinic.example/v2/patients/{{patient_id}}/slots",
                "method": "GET",
                "timeout": 2000,
            },
            "nextStepId": "bye",
        },
        {"id": "bye", "type": "Hangup", "configuration": {}},
    ]
    if guarded:
        steps.insert(
            1,
            {
                "id": "has-id",
                "type": "Condition",
                "configuration": {
                    "conditions": [{"expression": "patient_id != ''", "nextStepId": "http-slots"}],
                    "defaultStepId": "bye",
                },
            },
        )
    steps[0]["nextStepId"] = steps[1]["id"]
    return flow_set({"id": "clinic", "name": "clinic", "flowType": "IVR", "steps": steps})


def _patients_spec(tmp_path: Path) -> list[NamedSpec]:
    spec = tmp_path / "clinic.yaml"
    spec.write_text(
        "openapi: 3.0.3\ninfo: {title: Clinic, version: '1'}\n"
        "servers: [{url: 'https://clinic.example'}]\n"
        "paths:\n  /v2/patients/{patientId}/slots:\n    get:\n"
        "      parameters: [{name: patientId, in: path, required: true, schema: {type: string}}]\n"
        "      responses: {'200': {description: ok}}\n"
    )
    return [NamedSpec(name="clinic.example", spec=load_spec(spec))]


def test_an_empty_path_variable_is_a_missing_parameter_not_the_next_segment(
    tmp_path: Path,
) -> None:
    errors = _errors(_patients(guarded=False), _patients_spec(tmp_path))
    assert len(errors) == 1
    assert "required path parameter 'patientId' is missing (empty path segment)" in errors[0]
    assert "'slots'" not in errors[0]


def test_a_non_empty_guard_makes_the_empty_path_variable_unreachable(tmp_path: Path) -> None:
    assert _errors(_patients(guarded=True), _patients_spec(tmp_path)) == []


def _caller_lookup(routes_404: bool) -> Any:
    conditions = [{"expression": "http_outcome == 'success'", "nextStepId": "play-success"}]
    if routes_404:
        conditions.append({"expression": "http_status_code == 404", "nextStepId": "unknown"})
    return flow_set(
        {
            "id": "callers",
            "name": "callers",
            "flowType": "IVR",
            "steps": [
                {
                    "id": "http-caller",
                    "type": "HTTPRequest",
                    "configuration": {
                        "url": "https://lookups.example/v1/callers/{{ani}}",
                        "method": "GET",
                        "timeout": 2000,
                    },
                    "nextStepId": "route",
                },
                {
                    "id": "route",
                    "type": "Condition",
                    "configuration": {"conditions": conditions, "defaultStepId": "play-success"},
                },
                {"id": "play-success", "type": "Hangup", "configuration": {}},
                {"id": "unknown", "type": "Transfer", "configuration": {"queue": "agents"}},
            ],
        }
    )


def _callers_spec(tmp_path: Path) -> list[NamedSpec]:
    spec = tmp_path / "callers.yaml"
    spec.write_text(
        "openapi: 3.0.3\ninfo: {title: Lookups, version: '1'}\n"
        "servers: [{url: 'https://lookups.example'}]\n"
        "paths:\n  /v1/callers/{phone}:\n    get:\n"
        "      parameters: [{name: phone, in: path, required: true, schema: {type: string}}]\n"
        "      responses: {'200': {description: ok}}\n"
    )
    return [NamedSpec(name="lookups.example", spec=load_spec(spec))]


def test_a_withheld_ani_is_a_warning_when_the_flow_routes_the_404(tmp_path: Path) -> None:
    report = check_consumer(_caller_lookup(routes_404=True), _callers_spec(tmp_path))
    withheld = [f for f in report.findings if "withheld caller ID" in f.message]
    assert [f.severity for f in withheld] == ["warning"]
    assert not report.failed


def test_a_withheld_ani_is_an_error_when_the_404_reaches_success(tmp_path: Path) -> None:
    report = check_consumer(_caller_lookup(routes_404=False), _callers_spec(tmp_path))
    withheld = [f for f in report.findings if "withheld caller ID" in f.message]
    assert [f.severity for f in withheld] == ["error"]
    assert "ani=''" in withheld[0].message


def test_a_path_into_an_untyped_object_is_the_undeclared_warning(tmp_path: Path) -> None:
    spec = tmp_path / "carrier.yaml"
    spec.write_text(
        "openapi: 3.0.3\ninfo: {title: Carrier, version: '1'}\n"
        "servers: [{url: 'https://lookups.example'}]\n"
        "paths:\n  /v1/lines:\n    get:\n      responses:\n        '200':\n"
        "          description: ok\n          content:\n            application/json:\n"
        "              schema: {type: object, properties: {carrier: {type: object}}}\n"
    )
    flows = flow_set(
        {
            "id": "carrier",
            "name": "carrier",
            "flowType": "IVR",
            "steps": [
                {
                    "id": "http-line",
                    "type": "HTTPRequest",
                    "configuration": {
                        "url": "https://lookups.example/v1/lines",
                        "method": "GET",
                        "timeout": 2000,
                        "responseMapping": {"carrier_name": "$.carrier.name"},
                    },
                }
            ],
        }
    )
    named = [NamedSpec(name="lookups.example", spec=load_spec(spec))]
    found = [f for f in check_consumer(flows, named).findings if f.check == "response-mapping"]
    assert [(f.severity, f.mapping) for f in found] == [("warning", "carrier_name")]
    assert "'name' is undeclared" in found[0].message


def test_the_gate_passes_the_guarded_ivr_and_fails_the_unguarded_one(tmp_path: Path) -> None:
    from tests.contract.conftest import invoke

    spec = f"api.shop.example={DATA / 'orders.yaml'}"
    codes = {}
    for variant in ("guarded", "unguarded"):
        run = invoke(
            "gate", DATA / variant, "--spec", spec, "--report-dir", tmp_path, "--run-id", variant,
            "--max-examples", "40", env={"NO_COLOR": "1"},
        )  # fmt: skip
        codes[variant] = run.exit_code
        parts = json.loads((tmp_path / variant / "results.json").read_text())["parts"]
        status = {p["name"]: p["status"] for p in parts}
        if variant == "guarded":
            assert status == {"lint": "passed", "budget": "passed", "consumer": "passed"}, parts
        else:
            consumer = next(p for p in parts if p["name"] == "consumer")
            assert consumer["status"] == "failed"
            assert "order-status/http-order-status" in consumer["problems"][0]
            assert "'orderId' is missing" in consumer["problems"][0]
    assert codes == {"guarded": 0, "unguarded": 1}
