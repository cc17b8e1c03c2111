"""Expectations that name what does not exist fail the run as a harness error, with a hint."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from harness.bundled import SCENARIOS, example_flow_dirs
from harness.errors import ConfigError
from harness.scenario.model import load_scenario
from harness.scenario.runner import check_step_references, load_flow_sets, run_suite


def test_an_unknown_step_in_an_expectation_is_a_harness_error_with_a_hint() -> None:
    base = load_scenario(SCENARIOS / "happy-path.yaml")
    scenario = dataclasses.replace(
        base,
        expect=({"step": {"id": "http-customer-lookp", "max_ms": "budget"}},),
        known_defects={},
        flows=("hardened",),
    )
    flow_sets = load_flow_sets(example_flow_dirs()[:1])
    # the CLI and the pytest plugin refuse it before any run, naming file and pointer
    with pytest.raises(ConfigError) as info:
        check_step_references([scenario], flow_sets)
    assert "did you mean 'http-customer-lookup'?" in str(info.value)
    assert "happy-path.yaml#/expect/0/step/id" in str(info.value)
    # a library caller that runs it anyway gets an error run with the same hint
    suite = asyncio.run(run_suite([scenario], flow_sets))
    [run] = suite.runs
    assert run.verdict == "error" and suite.verdict == "error"
    assert "did you mean 'http-customer-lookup'?" in run.error
