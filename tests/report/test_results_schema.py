"""results.json follows contracts/schemas/results.schema.json, for real runs and every verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from harness.errors import exit_code
from harness.report.results import SCHEMA_ID, suite_json, to_results
from harness.scenario.runner import SuiteResult

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "contracts" / "schemas" / "results.schema.json"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _errors(validator: Draft202012Validator, document: Any) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]


def test_real_suite_results_validate(
    validator: Draft202012Validator, happy_suite: SuiteResult
) -> None:
    document = json.loads(to_results(happy_suite))
    assert _errors(validator, document) == []
    assert document["schema"] == SCHEMA_ID
    assert {r["id"] for r in document["runs"]} == {"happy-path[hardened]", "happy-path[seed]"}
    assert all(r["calls"] and r["calls"][0]["segments"] for r in document["runs"])


def test_every_verdict_validates(validator: Draft202012Validator, fake_suite: SuiteResult) -> None:
    document = suite_json(fake_suite)
    assert _errors(validator, document) == []
    assert document["counts"] == {
        "runs": 5, "pass": 1, "fail": 1, "expected_failure": 1, "unexpected_pass": 1,
        "inconclusive": 0, "error": 1,
    }  # fmt: skip
    assert document["verdict"] == "error" and document["exit_code"] == 2


def test_breakers_and_windows_are_reported(fake_suite: SuiteResult) -> None:
    storm = suite_json(fake_suite)["runs"][0]
    moves = [(m["old"], m["new"]) for m in storm["breakers"][0]["transitions"]]
    assert moves == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert storm["error_windows"][0]["requests"] == 2


def test_unexpected_pass_names_the_cleared_defect(fake_suite: SuiteResult) -> None:
    fixed = suite_json(fake_suite)["runs"][2]
    assert fixed["verdict"] == "unexpected_pass"
    assert fixed["known_defects_cleared"] == ["every call ends in transfer:agent-queue"]


def test_schema_is_strict(validator: Draft202012Validator, happy_suite: SuiteResult) -> None:
    document = suite_json(happy_suite)
    document["surprise"] = 1
    document["runs"][0]["checks"][0]["extra"] = True
    assert len(_errors(validator, document)) == 2


@pytest.mark.parametrize(("verdict", "code"), [("pass", 0), ("fail", 1), ("error", 2)])
def test_exit_code(verdict: str, code: int) -> None:
    assert exit_code(verdict) == code
