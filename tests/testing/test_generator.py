"""The IVR generator: every IVR it draws is correct by the guide, and does what it says.

In process and fast (lint, budget, the config loader, the reference executor on a
virtual clock), so it runs over many examples; the same IVRs go through the real CLI in
test_population.py.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from harness.backends.openapi_examples import load_operations
from harness.config import load_config
from harness.flow.budget import flow_budget
from harness.flow.lint import lint_flow_set
from harness.testing import Ivr, ivrs
from harness.testing.project import write_project
from tests.testing.healthy import flow_set, healthy_call, population

pytestmark = pytest.mark.timeout(300)

QUICK = population(10)


@QUICK
@given(ivrs())
def test_every_generated_ivr_passes_the_lint_and_fits_its_dead_air_budget(ivr: Ivr) -> None:
    flows = flow_set(ivr.flows)  # every document validates against the flow schema
    findings = lint_flow_set(flows, dead_air_budget_ms=ivr.dead_air_ms)
    assert [f.line() if hasattr(f, "line") else f for f in findings] == []
    for entry in flows.entry_flows():
        report = flow_budget(flows, entry.id, dead_air_budget_ms=ivr.dead_air_ms)
        assert not report.over_budget, report.to_json()


@QUICK
@given(ivrs())
def test_the_project_folder_loads_as_a_user_would_write_it(ivr: Ivr) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = write_project(ivr, Path(tmp) / ivr.name)
        config = load_config(root / "ivr-harness.toml", environ=ivr.environment)
        assert set(config.backends) == set(ivr.specs)
        assert config.dtmf == ()  # the battery is meant to find its own caller input
        assert set(config.secrets) == set(ivr.secrets)
        for host in ivr.specs:
            spec_path = config.backends[host].spec
            assert spec_path is not None
            _, operations = load_operations(spec_path)
            assert operations, host
        # Secrets are environment references: their values are in no flow, spec or config
        # (only the README's reproduction line exports the test values).
        written = [p for p in root.rglob("*") if p.is_file() and p.name != "README.md"]
        for value in ivr.environment.values():
            assert not any(value in p.read_text() for p in written)


@QUICK
@given(ivrs())
def test_a_caller_keying_each_route_reaches_its_step_and_the_success_branch(ivr: Ivr) -> None:
    for step in ivr.http_steps:
        result, backends = asyncio.run(healthy_call(ivr, step.dtmf))
        ran = [s for s in result.segments if (s.flow_id, s.step_id) == (step.flow_id, step.step_id)]
        assert ran, (step.step_id, step.dtmf, [s.step_id for s in result.segments])
        assert ran[0].detail["outcome"] == "success", ran[0].detail
        routed = [
            s.detail.get("next")
            for s in result.segments
            if (s.flow_id, s.step_id) == (step.flow_id, step.router_id)
        ]
        assert routed[0] == step.success_target, (step.step_id, routed)
        assert result.outcome in ("hangup", "voicemail") or result.outcome.startswith(
            "transfer:"
        ), result.outcome


@QUICK
@given(ivrs())
def test_a_healthy_call_never_speaks_a_null_and_every_write_carries_its_key(ivr: Ivr) -> None:
    route = max((s.dtmf for s in ivr.http_steps), key=len)
    result, backends = asyncio.run(healthy_call(ivr, route))
    for segment in result.segments:
        if segment.step_type == "Play":
            prompt = str(segment.detail.get("prompt", ""))
            assert "None" not in prompt and "null" not in prompt and " ." not in prompt, prompt
    for request in backends.requests:
        if request.method in ("POST", "PATCH") and "oauth" not in request.url.path:
            assert request.headers.get("idempotency-key", "").startswith("call-1-"), request
        assert b"None" not in request.content and b"null" not in request.content


def test_it_shrinks_to_one_lookup_behind_one_collect_digits() -> None:
    smallest = find(ivrs(), lambda ivr: True, settings=settings(database=None))
    assert len(smallest.http_steps) == 1
    assert smallest.http_steps[0].kind == "lookup"
    assert len(smallest.flows) == 1


BLOCKS = {
    "a sub-flow": lambda i: any("subflow" in s.features for s in i.http_steps),
    "202 + callback": lambda i: any("202-callback" in s.features for s in i.http_steps),
    "a token cached by a scheduled flow": lambda i: any(
        "cached-oauth2" in s.features for s in i.http_steps
    ),
    "basic auth": lambda i: any("basic" in s.features for s in i.http_steps),
    "a breaker shared by a host": lambda i: any(
        f.startswith("breaker:") and f.endswith(("api", "billing"))
        for s in i.http_steps
        for f in s.features
    ),
    "a menu": lambda i: any(
        any(st_["id"] == "main-menu" for st_ in d["steps"]) for d in i.flows.values()
    ),
    "two steps on one host": lambda i: len({s.host for s in i.http_steps})
    < len(i.http_steps),
    "three hosts": lambda i: len({s.host for s in i.http_steps}) >= 3,
    "a PATCH": lambda i: any(s.method == "PATCH" for s in i.http_steps),
    "eight HTTP steps": lambda i: len(i.http_steps) == 8,
    "a guarded [0]": lambda i: any("guarded-index" in s.features for s in i.http_steps),
}


def test_every_building_block_appears_in_sixty_ivrs() -> None:
    seen: set[str] = set()

    @settings(max_examples=60, database=None, derandomize=True, deadline=None)
    @given(ivrs())
    def collect(ivr: Ivr) -> None:
        seen.update(name for name, has in BLOCKS.items() if has(ivr))

    collect()
    assert sorted(set(BLOCKS) - seen) == []


def test_the_same_seed_draws_the_same_population() -> None:
    def names() -> list[str]:
        drawn: list[str] = []

        @settings(max_examples=10, database=None, derandomize=True, deadline=None)
        @given(ivrs(max_http_steps=4))
        def collect(ivr: Ivr) -> None:
            drawn.append(ivr.name)

        collect()
        return drawn

    assert names() == names()


@pytest.mark.parametrize("bounds", [(0, 1), (2, 1), (1, 9)])
def test_sizes_outside_one_to_eight_are_refused(bounds: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="1 <= min_http_steps"):
        ivrs(min_http_steps=bounds[0], max_http_steps=bounds[1])


@QUICK
@given(st.integers(1, 8).flatmap(lambda n: ivrs(min_http_steps=n, max_http_steps=n)))
def test_every_size_from_one_to_eight_is_drawn_exactly(ivr: Ivr) -> None:
    assert 1 <= len(ivr.http_steps) <= 8
