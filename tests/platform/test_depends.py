"""Step dependencies: SubFlows deployed or released, variables set by the side sending them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from harness.backends.flowapi import seed_documents
from harness.errors import ConfigError
from harness.platform.depends import check_dependencies, release_order
from tests.fixtures.flowapi import small_tenant
from tests.fixtures.flows import HARDENED, SEED


def by_id(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in documents}


def test_the_hardened_flows_hold_alone_and_over_the_seed() -> None:
    hardened = by_id(seed_documents(HARDENED))
    assert check_dependencies(hardened, {}) == []
    assert check_dependencies(hardened, by_id(seed_documents(SEED))) == []


def test_the_seed_passes_a_variable_it_never_sets() -> None:
    """The guide's defect: loyalty_tier goes to the ticket sub-flow, but the IVR never has it."""
    assert check_dependencies(by_id(seed_documents(SEED)), {}) == [
        "customer-lookup-ivr/subflow-ticket passes 'loyalty_tier' to ticket-submit, but "
        "customer-lookup-ivr never sets it"
    ]


def test_a_subflow_may_be_deployed_only() -> None:
    ivr, lookup, greeting = small_tenant()
    assert check_dependencies({"ivr": ivr}, {"lookup": lookup, "greeting": greeting}) == []
    assert check_dependencies({"ivr": ivr}, {}) == [
        "ivr/call-lookup calls flow 'lookup', which is neither deployed nor in this release"
    ]


def test_a_deployed_parent_still_gets_what_it_expects_back() -> None:
    ivr, lookup, greeting = small_tenant()
    changed = copy.deepcopy(lookup)
    changed["variables"] = {}
    changed["steps"][0]["configuration"]["responseMapping"] = {"state": "$.status"}
    problems = check_dependencies({"lookup": changed}, {"ivr": ivr, "greeting": greeting})
    assert problems == [
        "ivr/call-lookup expects 'status' back from lookup, but lookup never sets it"
    ]


def test_the_tenants_own_broken_calls_are_not_this_releases_business() -> None:
    ivr, lookup, greeting = small_tenant()
    broken = copy.deepcopy(ivr)
    broken["steps"][0]["configuration"]["flowId"] = "gone"
    assert check_dependencies({"greeting": greeting}, {"ivr": broken, "lookup": lookup}) == []


def test_a_templated_flow_id_resolves_through_the_defaults() -> None:
    ivr, lookup, greeting = small_tenant()
    templated = copy.deepcopy(ivr)
    templated["variables"]["lookupFlow"] = "lookup"
    templated["steps"][0]["configuration"]["flowId"] = "{{lookupFlow}}"
    assert check_dependencies({"ivr": templated}, {"lookup": lookup, "greeting": greeting}) == []
    assert release_order({"ivr": templated, "lookup": lookup, "greeting": greeting}) == [
        "greeting", "lookup", "ivr",
    ]  # fmt: skip


def test_the_order_writes_subflows_first_and_refuses_a_cycle() -> None:
    hardened = by_id(seed_documents(HARDENED))
    assert release_order(hardened) == [
        "crm-token-refresh", "ticket-submit", "customer-integration", "customer-lookup-ivr",
    ]  # fmt: skip
    ivr, lookup, greeting = small_tenant()
    looping = copy.deepcopy(greeting)
    again = {"id": "again", "type": "SubFlow", "configuration": {"flowId": "lookup"}}
    looping["steps"].insert(0, {**again, "nextStepId": "hello"})
    with pytest.raises(ConfigError, match="SubFlow cycle in the release: .*lookup.*greeting"):
        release_order({"lookup": lookup, "greeting": looping})
