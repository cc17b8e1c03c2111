"""The bundled catalogue, both directions, and proof that every fault matters.

* Against the hardened flows every scenario passes; against the seed flows each
  fails exactly as its `known_defects` say (reported as expected findings).
* Run without its faults, every scenario with faults must fail on the hardened
  flows: a fault that stops having an effect makes its scenario pointless.

How fast the catalogue runs (its wall time beside its longest scenario) is a speed
claim, so `make bench` measures it (bench/bench_suite.py, `suite_wall_time`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from harness.bundled import CONTRACTS
from harness.bundled import SCENARIOS as CATALOGUE
from harness.scenario.model import Scenario, load_scenarios
from harness.scenario.runner import SuiteResult, load_flow_sets, run_suite

SCENARIOS = load_scenarios([CATALOGUE])
WITH_FAULTS = [s for s in SCENARIOS if s.faults]
SPEC_CATALOGUE = {
    "happy-path", "latency-under-timeout", "latency-over-timeout", "dns-stall", "dns-nxdomain",
    "connection-refused", "tcp-black-hole", "slow-drip-body", "cut-mid-response",
    "5xx-storm-breaker", "503-503-200", "empty-array", "accepted-with-callback",
    "accepted-without-callback", "scope-drift-403", "expired-token", "token-endpoint-down",
    "rate-limit-429", "malformed-json", "oversized-body", "schema-drift", "not-found-404",
}  # fmt: skip


def _run(scenarios: list[Scenario], flow_dirs: list[Path]) -> SuiteResult:
    return asyncio.run(run_suite(scenarios, load_flow_sets(flow_dirs)))


@pytest.fixture(scope="module")
def catalogue() -> SuiteResult:
    flows = CONTRACTS / "flows"
    return _run(SCENARIOS, [flows / "hardened", flows / "seed"])


@pytest.fixture(scope="module")
def without_faults() -> SuiteResult:
    stripped = [dataclasses.replace(s, faults=(), known_defects={}) for s in WITH_FAULTS]
    return _run(stripped, [CONTRACTS / "flows" / "hardened"])


def test_catalogue_covers_the_spec() -> None:
    assert SPEC_CATALOGUE <= {s.name for s in SCENARIOS}


@pytest.mark.parametrize("name", sorted(s.name for s in SCENARIOS))
def test_hardened_flows_hold_every_scenario(catalogue: SuiteResult, name: str) -> None:
    run = next(r for r in catalogue.runs if r.scenario.name == name and r.flow_set == "hardened")
    assert run.verdict == "pass", [(c.title, c.actual) for c in run.failures()] or run.error


@pytest.mark.parametrize("name", sorted(s.name for s in SCENARIOS if s.known_defects.get("seed")))
def test_seed_flows_fail_exactly_as_documented(catalogue: SuiteResult, name: str) -> None:
    run = next(r for r in catalogue.runs if r.scenario.name == name and r.flow_set == "seed")
    assert run.verdict == "expected_failure", [(c.title, c.actual) for c in run.failures()]
    assert {c.title for c in run.failures()} == set(run.scenario.known_defects["seed"])


def test_seed_defects_are_named_for_what_the_caller_suffered(catalogue: SuiteResult) -> None:
    found = {c.title for r in catalogue.runs if r.flow_set == "seed" for c in r.failures()}
    for defect in (
        "403 insufficient_scope reached process-success",
        "timeout (status 0) reached process-success",
        "empty array played the error tone",
    ):
        assert defect in found


@pytest.mark.parametrize("name", sorted(s.name for s in WITH_FAULTS))
def test_each_fault_has_an_effect(without_faults: SuiteResult, name: str) -> None:
    run = next(r for r in without_faults.runs if r.scenario.name == name)
    assert run.verdict == "fail", f"{name} still passes with its faults removed"
