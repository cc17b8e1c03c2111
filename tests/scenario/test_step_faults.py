"""Faults aimed at one HTTP step, and what a backend received, over the wire.

The clinic line calls one host twice: GET the slots, then POST the booking. A fault
aimed at the POST (`step:`) must leave the GET alone, whatever its kind: an HTTP fault
at the stub, a latency toxic or a refused connection on the step's own proxy, a DNS
failure at the executor's resolver. A fault whose step never ran under it makes the
run an error naming the step. The stub's journal records call, step, attempt and the
Idempotency-Key of every request, which `requests:` expectations read.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.config import BackendEntry
from harness.scenario.model import load_scenario
from harness.scenario.runner import RunResult, load_flow_sets, run_suite
from tests.fixtures.clinic_ivr import BOOK, HOST, SLOTS, write_project

KEY = "clinic-key-5e1f"
BOOKING = ("0000000", "1")  # a patient id the guard takes, then "press 1 to book"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "clinic")


async def run(project: Path, **doc: Any) -> RunResult:
    """One scenario (YAML fields as keyword arguments) against the clinic flow."""
    body = {"name": "t", "entry": "clinic-booking", "callers": {"dtmf": list(BOOKING)}, **doc}
    path = project / "scenario.yaml"
    path.write_text(yaml.safe_dump(body))
    hosts = {HOST: BackendEntry(host=HOST, spec=project / "openapi" / "clinic.yaml")}
    scenario = dataclasses.replace(
        load_scenario(path, hosts=list(hosts)), hosts=hosts, secrets={"clinic_api_key": KEY}
    )
    suite = await run_suite([scenario], load_flow_sets([project / "flows"]))
    [result] = suite.runs
    return result


def segment(result: RunResult, step: str) -> dict[str, Any]:
    [call] = result.calls
    return next(dict(s.detail) for s in call.segments if s.step_id == step)


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        ({"http": {"kind": "status", "status": 503}}, "http_error"),
        ({"toxic": {"type": "latency", "attributes": {"latency": 3500}}}, "timeout"),
        ({"disable": True}, "connection_error"),
        ({"dns": {"kind": "nxdomain"}}, "dns_error"),
    ],
)
async def test_a_fault_aimed_at_one_step_leaves_the_other_steps_on_its_host_alone(
    project: Path, fault: dict[str, Any], outcome: str
) -> None:
    result = await run(
        project,
        time_scale=4,
        faults=[{"target": HOST, "step": BOOK, **fault}],
        expect=[{"step": {"id": BOOK, "outcome": outcome}}],
    )
    assert result.verdict == "pass", (result.error, [c.actual for c in result.failures()])
    assert segment(result, SLOTS)["outcome"] == "success"  # the GET before it was untouched
    assert segment(result, BOOK)["outcome"] == outcome


async def test_the_same_fault_on_the_whole_host_stops_the_call_at_the_first_step(
    project: Path,
) -> None:
    result = await run(
        project,
        faults=[{"target": HOST, "http": {"kind": "status", "status": 503}}],
        expect=[{"step": {"id": SLOTS, "outcome": "http_error"}}],
    )
    assert result.verdict == "pass"
    [call] = result.calls
    assert BOOK not in call.steps()


async def test_a_step_that_never_ran_under_its_fault_makes_the_run_an_error(
    project: Path,
) -> None:
    result = await run(
        project,
        callers={"dtmf": ["0000000", "2"]},  # 2: not "press 1", the POST never runs
        faults=[{"target": HOST, "step": BOOK, "http": {"kind": "status", "status": 503}}],
        expect=[{"dead_air_max_ms": 8000}],
    )
    assert result.verdict == "error"
    assert f"step {BOOK} never ran under fault 0" in result.error
    assert "to-front-desk" in result.error  # where the call went instead


async def test_the_journal_knows_call_step_attempt_and_the_key(project: Path) -> None:
    result = await run(
        project,
        faults=[{"target": HOST, "step": BOOK, "http": {"kind": "status", "status": 503}}],
        expect=[
            {"requests": {"backend": HOST, "step": BOOK, "per_call": True, "min": 2, "max": 2,
                          "header": "Idempotency-Key", "same_header": "Idempotency-Key"}},
            {"requests": {"backend": HOST, "method": "GET", "max": 1}},
        ],
    )  # fmt: skip
    assert result.verdict == "pass", [c.actual for c in result.failures()]


async def test_retries_without_one_key_are_a_duplicate_submission(project: Path) -> None:
    flow = yaml.safe_load((project / "flows" / "clinic-booking.json").read_text())
    book = next(s for s in flow["steps"] if s["id"] == BOOK)
    del book["configuration"]["headers"]["Idempotency-Key"]
    (project / "flows" / "clinic-booking.json").write_text(json.dumps(flow))
    result = await run(
        project,
        faults=[{"target": HOST, "step": BOOK, "http": {"kind": "status", "status": 503}}],
        expect=[{"requests": {"backend": HOST, "step": BOOK, "per_call": True,
                              "same_header": "Idempotency-Key"}}],
    )  # fmt: skip
    [check] = result.failures()
    assert check.actual == "2 requests in call-1 with Idempotency-Key: none"


async def test_a_blank_in_what_the_caller_hears_fails_clean_output(project: Path) -> None:
    # A renamed `time` leaves slot_time null; this router only checks slot_id.
    flow = yaml.safe_load((project / "flows" / "clinic-booking.json").read_text())
    router = next(s for s in flow["steps"] if s["id"] == "slots-router")
    router["configuration"]["conditions"][0]["expression"] = "slot_id != null"
    (project / "flows" / "clinic-booking.json").write_text(json.dumps(flow))
    result = await run(
        project,
        callers={"dtmf": ["0000000"]},
        faults=[{"target": HOST, "step": SLOTS,
                 "http": {"kind": "rename_field", "from": "time", "to": "starts"}}],
        expect=[{"clean_output": True}, {"lands": {"after": SLOTS, "in": ["offer-slot"]}}],
    )  # fmt: skip
    [check] = result.failures()
    assert check.actual == "call-1: offer-slot (prompt) got slot_time=null"
