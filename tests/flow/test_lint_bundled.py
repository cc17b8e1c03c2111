"""The product's first demonstration: every documented seed defect is found; hardened is clean."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.flow.lint import lint_flow_set
from harness.flow.loader import load_flow_set, parse_flow
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
    assert len(lint_flow_set(seed)) == 22


# The bundled hardened flows still carry two findings on one step; the fix is proposed to
# the lead (see docs/lint-rules.md, "Bundled flows"): take the token fetch off the caller
# path, and play a prompt between the lookup and the ticket sub-flow.
KNOWN_HARDENED = {
    ("IVR005", "customer-integration", "http-customer-lookup"),
    ("IVR017", "customer-integration", "http-customer-lookup"),
}


def test_bundled_hardened_has_only_the_known_findings() -> None:
    assert _keys(load_flow_set(FLOWS / "hardened")) == KNOWN_HARDENED


@pytest.mark.xfail(strict=True, reason="hardened flows await the proposed token/prompt change")
def test_bundled_hardened_is_clean() -> None:
    assert lint_flow_set(load_flow_set(FLOWS / "hardened")) == []


def _patched_hardened() -> FlowSet:
    docs = {p.stem: json.loads(p.read_text()) for p in (FLOWS / "hardened").glob("*.json")}
    _cached_token(docs["customer-integration"])
    _prompt_before_ticket(docs["customer-lookup-ivr"])
    flows = {}
    for name, doc in docs.items():
        flow = parse_flow(doc, path=FLOWS / "hardened" / f"{name}.json",
                          source=json.dumps(doc, indent=2))
        flows[flow.id] = flow
    return FlowSet(flows=flows, root=FLOWS / "hardened")


def _cached_token(doc: dict[str, Any]) -> None:
    steps: list[dict[str, Any]] = doc["steps"]
    http = steps[0]
    del http["configuration"]["authentication"]
    http["configuration"]["headers"]["Authorization"] = "Bearer {{crm_access_token}}"
    steps.insert(0, {
        "id": "get-cached-token", "type": "DataAPI",
        "configuration": {"operation": "get", "key": "crm_access_token",
                          "resultVariable": "crm_access_token"},
        "nextStepId": http["id"],
    })


def _prompt_before_ticket(doc: dict[str, Any]) -> None:
    steps: list[dict[str, Any]] = doc["steps"]
    router = next(s for s in steps if s["id"] == "route-result")
    for branch in router["configuration"]["conditions"]:
        if branch["nextStepId"] == "subflow-ticket":
            branch["nextStepId"] = "creating-case"
    steps.append(copy.deepcopy({
        "id": "creating-case", "type": "Play",
        "configuration": {"prompt": "Thanks. Creating your case now.", "durationMs": 1500},
        "nextStepId": "subflow-ticket",
    }))


def test_hardened_with_the_proposed_change_is_clean() -> None:
    assert lint_flow_set(_patched_hardened()) == []
