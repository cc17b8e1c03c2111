"""The product's first demonstration: every documented seed defect is found; hardened is clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.flow.lint import lint_flow_set
from harness.flow.loader import load_flow_set
from harness.flow.model import FlowSet

FLOWS = Path(__file__).resolve().parents[2] / "contracts" / "flows"


def _keys(flows: FlowSet) -> set[tuple[str, str, str]]:
    return {(f.rule_id, f.flow_id, f.step_id) for f in lint_flow_set(flows)}


@pytest.fixture(scope="module")
def seed() -> FlowSet:
    return load_flow_set(FLOWS / "seed")


@pytest.mark.parametrize(
    ("rule_id", "flow_id", "step_id", "fragment"),
    [
        ("IVR011", "customer-integration", "error-router", "outcome '403'"),
        ("IVR011", "customer-integration", "error-router", "outcome 'timeout'"),
        ("IVR011", "customer-integration", "error-router", "outcome '202'"),
        ("IVR011", "customer-integration", "error-router", "outcome '429'"),
        # A body over the 32 KB cap keeps its 200, and the router tests only the status.
        ("IVR011", "customer-integration", "error-router", "outcome 'too_large'"),
        ("IVR006", "customer-integration", "http-customer-lookup", "reads $.data[0] "),
        ("IVR009", "customer-integration", "http-customer-lookup", "applies '>'"),
        ("IVR008", "customer-lookup-ivr", "transform-payload", "'{{dtmf_input}}' quoted"),
        ("IVR008", "ticket-submit", "http-ticket-submit", "JSON body is a string"),
        ("IVR010", "customer-lookup-ivr", "transform-payload", "raw input dtmf_input"),
        ("IVR012", "customer-integration", "http-customer-lookup", "routed to success"),
        ("IVR012", "ticket-submit", "http-ticket-submit", "no router"),
        ("IVR007", "customer-integration", "http-customer-lookup", "{{phone_number}}"),
        ("IVR013", "customer-lookup-ivr", "route-result", "no defaultStepId"),
        ("IVR013", "customer-lookup-ivr", "confirm-ticket", "no defaultStepId"),
        ("IVR018", "customer-integration", "circuit-breaker-increment", "crm_consecutive_failures"),
        ("IVR015", "customer-lookup-ivr", "subflow-ticket", "'loyalty_tier'"),
        ("IVR005", "customer-integration", "http-customer-lookup", "cold cache"),
        ("IVR017", "customer-integration", "http-customer-lookup", "48000 ms"),
    ],
)
def test_seed_defect_is_found(
    seed: FlowSet, rule_id: str, flow_id: str, step_id: str, fragment: str
) -> None:
    messages = [
        f.message
        for f in lint_flow_set(seed)
        if (f.rule_id, f.flow_id, f.step_id) == (rule_id, flow_id, step_id)
    ]
    assert any(fragment in m for m in messages), messages


def test_seed_finds_nothing_unexpected(seed: FlowSet) -> None:
    rules = {f.rule_id for f in lint_flow_set(seed)}
    # Not in the seed: explicit timeouts everywhere, no 4xx retries, no retried POST,
    # no dangling ids, no literal secrets.
    assert rules.isdisjoint({"IVR001", "IVR003", "IVR004", "IVR014", "IVR016"})
    assert len(lint_flow_set(seed)) == 23


def test_bundled_hardened_is_clean() -> None:
    assert lint_flow_set(load_flow_set(FLOWS / "hardened")) == []


def test_client_credentials_token_request_may_be_retried() -> None:
    # The hardened token job retries its POST: a client-credentials grant creates nothing.
    hardened = load_flow_set(FLOWS / "hardened")
    job = hardened.get("crm-token-refresh")
    assert job is not None and job.steps[0].config["retryPolicy"]["maxRetries"] == 1
    assert not [f for f in lint_flow_set(hardened) if f.rule_id == "IVR004"]
