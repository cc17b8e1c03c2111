"""Caller keys that reach each HTTP step, found by playing the flows against their stubs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.config import BackendEntry
from harness.flow.loader import load_flow_set
from harness.scenario.keys import candidates, regex_examples
from harness.scenario.reach import reach_steps
from tests.fixtures.clinic_ivr import BOOK, FLOW, HOST, SLOTS, write_project

SECRETS = {"clinic_api_key": "k-1"}


def hosts(root: Path) -> dict[str, BackendEntry]:
    return {HOST: BackendEntry(host=HOST, spec=root / "openapi" / "clinic.yaml")}


async def reach(root: Path, flow: dict[str, Any]) -> dict[str, Any]:
    write_project(root, flow)
    flows = load_flow_set(root / "flows")
    targets = [f"clinic-booking/{SLOTS}", f"clinic-booking/{BOOK}"]
    return await reach_steps(flows, "clinic-booking", targets, hosts=hosts(root),
                             variables=SECRETS)  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "example"),
    [
        (r"^[0-9]{7}$", "0000000"),
        (r"^\d{3,5}$", "000"),
        (r"^[1-9][0-9]{3}$", "1000"),
        (r"^(1|2|9)$", "1"),
        (r"^\*\d+#?$", "*0"),
    ],
)
def test_regex_examples_are_keypad_strings_the_pattern_accepts(pattern: str, example: str) -> None:
    found = regex_examples(pattern)
    assert found[0] == example
    assert all(set(s) <= set("0123456789*#") for s in found)


def test_regex_examples_of_what_a_keypad_cannot_type_are_none() -> None:
    assert regex_examples(r"^[a-z]+$") == []
    assert regex_examples(r"(unclosed") == []


def test_candidates_come_from_the_guards_first(tmp_path: Path) -> None:
    flows = load_flow_set(write_project(tmp_path) / "flows")
    flow = flows.get("clinic-booking")
    assert flow is not None
    patient = candidates(flow.step("collect-patient"), flows)  # type: ignore[arg-type]
    assert patient[0] == "0000000"  # from matches(patient_id, '^[0-9]{7}$')
    assert all(len(c) <= 7 for c in patient)  # maxDigits
    assert candidates(flow.step("collect-choice"), flows)[0] == "1"  # type: ignore[arg-type]


async def test_the_menu_after_the_first_input_is_answered(tmp_path: Path) -> None:
    found = await reach(tmp_path, FLOW)
    assert found[f"clinic-booking/{SLOTS}"].dtmf == ("0000000",)
    assert found[f"clinic-booking/{BOOK}"].dtmf == ("0000000", "1")
    assert found[f"clinic-booking/{BOOK}"].landing == "say-booked"


async def test_a_re_prompt_loop_keeps_its_guard(tmp_path: Path) -> None:
    # Invalid input loops back to the CollectDigits; a length guard and a range guard
    # on a variable computed from the input decide what gets through.
    flow = copy.deepcopy(FLOW)
    steps = {s["id"]: s for s in flow["steps"]}
    steps["guard-patient"]["configuration"] = {
        "conditions": [{"expression": "patient_id.length == 7", "nextStepId": "as-number"}],
        "defaultStepId": "try-again",
    }
    flow["steps"] += [
        {"id": "try-again", "type": "Play", "configuration": {"prompt": "Seven digits, please."},
         "nextStepId": "collect-patient"},
        {"id": "as-number", "type": "DataAPI", "nextStepId": "in-range",
         "configuration": {"operation": "evaluate", "expression": "patient_id * 1",
                           "resultVariable": "patient_no"}},
        {"id": "in-range", "type": "Condition",
         "configuration": {"conditions": [{"expression": "patient_no >= 1000000",
                                           "nextStepId": SLOTS}],
                           "defaultStepId": "try-again"}},
    ]  # fmt: skip
    found = await reach(tmp_path, flow)
    keys = found[f"clinic-booking/{SLOTS}"].dtmf
    assert keys is not None and len(keys[-1]) == 7 and int(keys[-1]) >= 1_000_000


async def test_a_step_no_input_reaches_is_a_note_naming_the_guard(tmp_path: Path) -> None:
    flow = copy.deepcopy(FLOW)
    steps = {s["id"]: s for s in flow["steps"]}
    steps["choice-router"]["configuration"]["conditions"][0]["expression"] = "choice == 'A'"
    found = await reach(tmp_path, flow)
    book = found[f"clinic-booking/{BOOK}"]
    assert book.dtmf is None
    assert book.blocked == (
        "choice-router (`choice == 'A'` -> http-book) never sent an explored call toward it"
    )


async def test_a_sub_flow_behind_a_guard_is_reached(tmp_path: Path) -> None:
    # The booking POST moves into a SubFlow the main flow calls after "press 1".
    flow = copy.deepcopy(FLOW)
    steps = {s["id"]: s for s in flow["steps"]}
    book = steps.pop(BOOK)
    flow["steps"] = [s for s in flow["steps"] if s["id"] != BOOK]
    flow["steps"].append(
        {
            "id": "book",
            "type": "SubFlow",
            "nextStepId": "bye",
            "configuration": {
                "flowId": "booking",
                "passThroughVariables": ["patient_id", "slot_id"],
            },
        }
    )
    steps["choice-router"]["configuration"]["conditions"][0]["nextStepId"] = "book"
    child = {"id": "booking", "name": "Booking", "flowType": "SubFlow", "version": 1,
             "variables": {"booking_ref": None, "clinic_api_key": None},
             "steps": [{**book, "nextStepId": "done"},
                       {"id": "done", "type": "Return", "configuration": {}}]}  # fmt: skip
    write_project(tmp_path, flow)
    (tmp_path / "flows" / "booking.json").write_text(json.dumps(child))
    flows = load_flow_set(tmp_path / "flows")
    found = await reach_steps(flows, "clinic-booking", [f"booking/{BOOK}"],
                              hosts=hosts(tmp_path), variables=SECRETS)  # fmt: skip
    assert found[f"booking/{BOOK}"].dtmf == ("0000000", "1")
