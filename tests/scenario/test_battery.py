"""The battery derived from flows: which scenarios, and expectations the flow implies."""

from __future__ import annotations

import copy
from pathlib import Path

from harness.bundled import example_flow_dirs, example_specs
from harness.config import BackendEntry
from harness.flow.loader import load_flow_set
from harness.scenario.battery import BatteryOptions, battery
from tests.fixtures.own_ivr import FLOW, HOST, STEP, write_project

CRM = "api.crm-provider.com"


def _titles(scenario: object) -> list[str]:
    return [e["title"] for e in scenario.expect]  # type: ignore[attr-defined]


async def test_one_scenario_per_outcome_class_and_per_mapped_field(tmp_path: Path) -> None:
    root = write_project(tmp_path)
    entry = BackendEntry(host=HOST, spec=root / "openapi" / "orders.yaml")
    options = BatteryOptions(hosts={HOST: entry})
    found = await battery("flows", load_flow_set(root / "flows"), options)
    names = [s.name.removeprefix(f"battery-order-status-{STEP}-") for s in found.scenarios]
    # No 202: the spec does not document one and the flow does not route one.
    assert names == [
        "baseline", "timeout", "connection", "dns", "5xx", "429", "400", "401", "403", "404",
        "malformed", "too_large", "drift-status",
    ]  # fmt: skip
    assert found.notes == []


async def test_a_counted_array_drifts_as_the_array_not_its_length(tmp_path: Path) -> None:
    # Found by the generated population (issue 19): `$.items.length` made a drift of a
    # field named `length`, a rename no backend can make, and the correct flow, reaching
    # its success branch untouched, failed the run.
    flow = copy.deepcopy(FLOW)
    http = next(s for s in flow["steps"] if s["id"] == STEP)
    http["configuration"]["responseMapping"] = {"order_status": "$.items.length"}
    root = write_project(tmp_path, flow)
    entry = BackendEntry(host=HOST, spec=root / "openapi" / "orders.yaml")
    found = await battery(
        "flows", load_flow_set(root / "flows"), BatteryOptions(hosts={HOST: entry})
    )
    drifts = [s for s in found.scenarios if "drift" in s.name]
    assert [s.name.rsplit("-", 2)[-2:] for s in drifts] == [["drift", "items"]]
    assert drifts[0].faults[0].spec["from"] == "items"  # type: ignore[index]


async def test_expectations_come_from_the_flow_configuration() -> None:
    hardened = load_flow_set(example_flow_dirs()[0])
    options = BatteryOptions(
        hosts={CRM: BackendEntry(host=CRM, spec=example_specs()[CRM])}, dead_air_ms=5000
    )
    by_class = {s.tags[1]: s for s in (await battery("hardened", hardened, options)).scenarios}
    # The step has a breaker (threshold 3): the storm needs a 4th caller, who is refused.
    storm = by_class["5xx"]
    assert storm.callers.count == 4
    assert storm.expect[0]["step"] == {
        "id": "http-customer-lookup", "outcome": "circuit_open", "attempts": 0,
    }  # fmt: skip
    # `$.data[0]`-style mappings make the empty array a class of its own.
    assert "empty" in by_class
    # The router's success branch is what no failure class may reach.
    assert "http-customer-lookup: 403 must not reach the success branch (process-success)" in (
        _titles(by_class["403"])
    )
    assert {"lands": {"after": "http-customer-lookup", "not_in": ["process-success"]},
            "title": "http-customer-lookup: 403 must not reach the success branch "
                     "(process-success)"} in by_class["403"].expect  # fmt: skip
    assert {"dead_air_max_ms": 5000, "title": "http-customer-lookup: 403 keeps dead air under"
            " 5000 ms"} in by_class["403"].expect  # fmt: skip
    # Retries are counted where they are spent (the backend's journal), and no failure
    # class may leave the caller at a dead end.
    assert {"requests": {"backend": CRM, "step": "customer-integration/http-customer-lookup",
                         "per_call": True, "max": 2},
            "title": "http-customer-lookup: a 5xx storm gets at most 2 requests per call"
            } in storm.expect  # fmt: skip
    assert all(any("outcome_not" in e for e in s.expect) for s in by_class.values())
    # The token job is scheduled, never on a caller's path: no battery for its host. Every
    # fault is aimed at the step, not at the whole host.
    assert all(s.faults[0].target == CRM for s in by_class.values() if s.faults)
    assert {s.faults[0].step for s in by_class.values() if s.faults} == {
        "customer-integration/http-customer-lookup"
    }


async def test_hosts_without_a_backend_get_no_battery() -> None:
    hardened = load_flow_set(example_flow_dirs()[0])
    found = await battery("hardened", hardened, BatteryOptions(hosts={}))
    assert found.scenarios == [] and found.notes == []
