"""The consumer contract over the bundled flows and specs (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.contract.consumer import ConsumerReport, check_consumer, load_named_specs
from harness.contract.matching import NamedSpec, match_operation, split_url
from harness.contract.openapi import parse_spec
from harness.flow.loader import load_flow_set

from .conftest import FLOWS, GUIDE_SPECS, OPENAPI, invoke


def _run(flows: Path, specs: tuple[str, ...] = GUIDE_SPECS) -> ConsumerReport:
    return check_consumer(load_flow_set(flows), load_named_specs(specs), max_examples=60)


def _errors(report: ConsumerReport, check: str) -> list[str]:
    return [f.line() for f in report.findings if f.severity == "error" and f.check == check]


@pytest.fixture(scope="module")
def seed() -> ConsumerReport:
    return _run(FLOWS / "seed")


def test_hardened_flows_hold_every_consumer_check() -> None:
    report = _run(FLOWS / "hardened")
    assert not report.failed, [f.line() for f in report.findings if f.severity == "error"]
    assert report.steps_checked >= 2


def test_seed_json_string_body_is_injectable(seed: ConsumerReport) -> None:
    (line,) = [e for e in _errors(seed, "injection") if "customer_profile.id" in e]
    assert "ticket-submit/http-ticket-submit" in line
    assert "not valid JSON" in line
    assert "e.g. customer_profile=" in line  # the failing example is reported


def test_seed_raw_url_parameter_breaks_the_url(seed: ConsumerReport) -> None:
    assert any("{{phone_number}}" in e and "URL" in e for e in _errors(seed, "injection"))


def test_seed_router_sends_documented_errors_to_the_success_branch(seed: ConsumerReport) -> None:
    routing = _errors(seed, "status-routing")
    crm = [e for e in routing if "http-customer-lookup" in e]
    assert {s for s in ("400", "403", "429") if any(f"status {s} " in e for e in crm)} == {
        "400",
        "403",
        "429",
    }
    assert not any("status 401 " in e or "status 404 " in e for e in crm)  # routed on purpose
    assert any("status 202 " in e and "ticket-done" in e for e in routing)


def test_renamed_response_field_is_path_not_in_schema(tmp_path: Path) -> None:
    drifted = tmp_path / "crm.yaml"
    text = (OPENAPI / "crm.yaml").read_text(encoding="utf-8")
    drifted.write_text(text.replace("loyalty_tier", "loyaltyTier"), encoding="utf-8")
    specs = (f"api.crm-provider.com={drifted}", *GUIDE_SPECS[1:])
    report = _run(FLOWS / "hardened", specs)
    (finding,) = [f for f in report.findings if f.severity == "error"]
    assert (finding.step_id, finding.mapping) == ("http-customer-lookup", "loyalty_tier")
    assert finding.spec_pointer == (
        "#/paths/~1v2~1accounts/get/responses/200/content/application~1json/schema"
    )
    assert "path not in schema" in finding.message


def test_step_without_a_matching_operation_is_an_error(tmp_path: Path) -> None:
    spec = tmp_path / "crm.yaml"
    text = (OPENAPI / "crm.yaml").read_text(encoding="utf-8")
    spec.write_text(text.replace("/v2/accounts:", "/v3/accounts:"), encoding="utf-8")
    report = _run(FLOWS / "hardened", (f"api.crm-provider.com={spec}", *GUIDE_SPECS[1:]))
    (line,) = _errors(report, "operation-match")
    assert "GET /v2/accounts" in line and "GET /v3/accounts" in line


def test_matching_uses_method_path_template_and_server_base_path() -> None:
    spec = parse_spec(
        "openapi: 3.0.0\ninfo: {title: T}\nservers: [{url: 'https://api.x.com/base'}]\n"
        "paths:\n  /items/{id}: {get: {responses: {'200': {description: ok}}}}\n"
        "  /items/special: {get: {responses: {'200': {description: ok}}}}\n"
    )
    named = [NamedSpec(name="", spec=spec)]
    url = split_url("https://api.x.com/base/items/{{item_id}}")
    assert match_operation("GET", url, named).operation.path == "/items/{id}"  # type: ignore[union-attr]
    special = split_url("https://api.x.com/base/items/special")
    assert match_operation("GET", special, named).operation.path == "/items/special"  # type: ignore[union-attr]
    assert match_operation("POST", url, named).operation is None
    assert match_operation("GET", split_url("https://other.com/items/1"), named).spec is None


def test_cli_contract_exit_codes_and_json() -> None:
    ok = invoke(
        "contract",
        FLOWS / "hardened",
        *[a for s in GUIDE_SPECS for a in ("--spec", s)],
        "--max-examples",
        "30",
    )
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    assert "consumer contract passed" in ok.stdout
    bad = invoke(
        "contract",
        FLOWS / "seed",
        "--json",
        "--max-examples",
        "30",
        *[a for s in GUIDE_SPECS for a in ("--spec", s)],
    )
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["failed"] is True


def test_cli_contract_unparseable_spec_is_one_line_exit_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.0.0\npaths: {a: [\n", encoding="utf-8")
    run = invoke("contract", FLOWS / "hardened", "--spec", f"api.crm-provider.com={broken}")
    assert run.exit_code == 2
    assert run.stderr.count("\n") == 1 and str(broken) in run.stderr
    assert "Traceback" not in run.stderr
