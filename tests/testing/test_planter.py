"""Planted defects: one change each, and labels that hold.

The labels are checked against what really happens, in process: a defect labelled
dynamically observable makes some fault of the battery's classes, aimed at its step,
produce something a caller or a backend would notice (`tests/testing/healthy.py`); the
correct IVR under the same faults produces nothing of the kind; a statically visible
one is named by the lint.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from harness.flow.lint import lint_flow_set
from harness.testing import Ivr, ivrs
from harness.testing.planter import TRAPS, Defect, defects, plant
from tests.testing.healthy import NIGHTLY, NIGHTLY_N, classes_of, flow_set, observe, population

pytestmark = pytest.mark.timeout(600)

QUICK = population(4)


def _changed(ivr: Ivr, defect: Defect) -> list[str]:
    return [name for name in ivr.flows if json.dumps(ivr.flows[name], sort_keys=True)
            != json.dumps(defect.flows[name], sort_keys=True)]  # fmt: skip


@QUICK
@given(ivrs(max_http_steps=4))
def test_every_defect_is_one_change_to_one_flow_and_still_loads(ivr: Ivr) -> None:
    for defect in plant(ivr):
        assert len(_changed(ivr, defect)) == 1, defect.id
        flow_set(defect.flows)  # validates against the flow schema
        assert defect.labels in ({"static"}, {"dynamic"}, {"static", "dynamic"},
                                 {"equivalent"}), defect.id  # fmt: skip
        assert bool(defect.expect_static) == defect.static, defect.id
        assert bool(defect.expect_dynamic) == defect.dynamic, defect.id
        assert defect.trap in TRAPS


def _lint_named(ivr: Ivr, defect: Defect) -> set[str]:
    step = ivr.step(defect.flow_id, defect.step_id)
    names = {step.step_id, step.router_id, step.wait_id}
    before = {(f.rule_id, f.step_id, f.message) for f in
              lint_flow_set(flow_set(ivr.flows), dead_air_budget_ms=ivr.dead_air_ms)}  # fmt: skip
    after = lint_flow_set(flow_set(defect.flows), dead_air_budget_ms=ivr.dead_air_ms)
    return {f.rule_id for f in after if (f.rule_id, f.step_id, f.message) not in before
            and (f.step_id in names or step.step_id in f.message)}  # fmt: skip


@QUICK
@given(ivrs(max_http_steps=4))
def test_the_lint_names_every_statically_visible_defect(ivr: Ivr) -> None:
    for defect in plant(ivr):
        if defect.static:
            named = _lint_named(ivr, defect)
            assert named & set(defect.expect_static), (defect.id, defect.change, named)


@QUICK
@given(ivrs(max_http_steps=3))
def test_no_fault_on_any_step_of_a_correct_ivr_does_anything_wrong(ivr: Ivr) -> None:
    for step in ivr.http_steps:
        for cls in classes_of(ivr, step):
            wrong = asyncio.run(observe(ivr, step, cls))
            assert wrong == [], (step.step_id, cls, wrong)


@settings(QUICK, max_examples=NIGHTLY_N if NIGHTLY else 8)
@given(ivrs(max_http_steps=3).flatmap(lambda ivr: st.tuples(st.just(ivr), defects(ivr))))
def test_a_defect_is_observable_exactly_when_it_is_labelled_dynamic(
    pair: tuple[Ivr, Defect],
) -> None:
    ivr, defect = pair
    step = ivr.step(defect.flow_id, defect.step_id)
    seen = {cls: asyncio.run(observe(ivr, step, cls, defect.flows))
            for cls in classes_of(ivr, step)}  # fmt: skip
    seen = {cls: wrong for cls, wrong in seen.items() if wrong}
    note(f"{defect.id}: {defect.change}; seen {seen}")
    if defect.dynamic:
        expected = set(defect.expect_dynamic) & set(classes_of(ivr, step))
        assert expected & set(seen) or not expected, (defect.id, defect.expect_dynamic, seen)
        assert seen, defect.id
    else:
        assert seen == {}, (defect.id, sorted(defect.labels), seen)


def test_plant_refuses_an_unknown_trap() -> None:
    with pytest.raises(ValueError, match="unknown traps"):
        plant(ivr_example(), ["timeout-doubled"])


def ivr_example() -> Ivr:
    from hypothesis import find

    return find(ivrs(max_http_steps=1), lambda ivr: True, settings=settings(database=None))
