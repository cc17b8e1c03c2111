"""Expectations that name what does not exist fail the run as a harness error, with a hint."""

from __future__ import annotations

import asyncio
import dataclasses

from harness.bundled import SCENARIOS, example_flow_dirs
from harness.scenario.model import load_scenario
from harness.scenario.runner import load_flow_sets, run_suite


def test_an_unknown_step_in_an_expectation_is_a_harness_error_with_a_hint() -> None:
    base = load_scenario(SCENARIOS / "happy-path.yaml")
    scenario = dataclasses.replace(
        base,
        expect=({"step": {"id": "http-customer-lookp", "max_ms": "budget"}},),
        known_defects={},
        flows=("hardened",),
    )
    suite = asyncio.run(run_suite([scenario], load_flow_sets(example_flow_dirs()[:1])))
    [run] = suite.runs
    assert run.verdict == "error" and suite.verdict == "error"
    assert "did you mean 'http-customer-lookup'?" in run.error
