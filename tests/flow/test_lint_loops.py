"""IVR019 endless-loop: loops a call can never leave are findings; loops it can leave are not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.flow.lint import lint_flow_set
from harness.flow.loader import load_flow_set, parse_flow
from harness.flow.model import FlowSet
from tests.fixtures.cli_run import run_cli

END = {"id": "end", "type": "Hangup", "configuration": {}}


def _set(*steps: dict[str, Any]) -> FlowSet:
    doc = {"id": "f", "name": "f", "flowType": "IVR", "steps": [*steps, END]}
    return FlowSet(flows={"f": parse_flow(doc)})


def _play(step_id: str, nxt: str) -> dict[str, Any]:
    return {"id": step_id, "type": "Play", "configuration": {"prompt": "p"}, "nextStepId": nxt}


def _cond(step_id: str, expression: str, back: str, default: str | None) -> dict[str, Any]:
    config: dict[str, Any] = {"conditions": [{"expression": expression, "nextStepId": back}]}
    if default:
        config["defaultStepId"] = default
    return {"id": step_id, "type": "Condition", "configuration": config}


def _increment(step_id: str, nxt: str) -> dict[str, Any]:
    config = {"operation": "increment", "key": "attempts", "resultVariable": "attempts"}
    return {"id": step_id, "type": "DataAPI", "configuration": config, "nextStepId": nxt}


def _collect(step_id: str, nxt: str) -> dict[str, Any]:
    config = {"variable": "choice", "maxDigits": 1}
    return {"id": step_id, "type": "CollectDigits", "configuration": config, "nextStepId": nxt}


def _loops(flows: FlowSet) -> list[tuple[str, str]]:
    return [(f.step_id, f.message) for f in lint_flow_set(flows) if f.rule_id == "IVR019"]


def test_a_step_that_leads_to_itself_is_flagged_at_its_next_step_id() -> None:
    [finding] = [f for f in lint_flow_set(_set(_play("hold", "hold"))) if f.rule_id == "IVR019"]
    assert finding.step_id == "hold" and finding.pointer == "/steps/0/nextStepId"
    assert "'hold' leads to itself" in finding.message and finding.severity == "error"


@pytest.mark.parametrize(
    "steps,path",
    [
        # Caller input does not help when nothing leaves the loop.
        ((_play("menu", "ask"), _collect("ask", "menu")), "menu -> ask -> menu"),
        # A way out that tests something the loop never changes.
        (
            (_play("sorry", "check"), _cond("check", "attempts < 3", "sorry", "end")),
            "sorry -> check -> sorry",
        ),
        ((_cond("spin", "true", "spin", None),), "'spin' leads to itself"),
    ],
    ids=["no-exit-with-input", "exit-never-taken", "condition-self-loop"],
)
def test_endless_loops_are_flagged(steps: tuple[dict[str, Any], ...], path: str) -> None:
    [(_, message)] = _loops(_set(*steps))
    assert path in message


@pytest.mark.parametrize(
    "steps",
    [
        (
            _play("sorry", "count"),
            _increment("count", "check"),
            _cond("check", "attempts < 3", "sorry", "end"),
        ),
        (
            _play("menu", "ask"),
            _collect("ask", "check"),
            _cond("check", "choice == ''", "menu", "end"),
        ),
        (_play("hold", "check"), _cond("check", "currentTimestamp() < 5", "hold", "end")),
        (_play("a", "end"),),
    ],
    ids=["counter", "caller-input", "clock", "no-loop"],
)
def test_loops_a_call_can_leave_are_not_flagged(steps: tuple[dict[str, Any], ...]) -> None:
    assert _loops(_set(*steps)) == []


def test_bundled_flows_stay_clean_and_the_seed_keeps_its_findings() -> None:
    flows = Path(__file__).resolve().parents[2] / "contracts" / "flows"
    assert lint_flow_set(load_flow_set(flows / "hardened")) == []
    assert not _loops(load_flow_set(flows / "seed"))


def test_cli_lint_fails_a_self_loop(tmp_path: Path) -> None:
    doc = {"id": "f", "name": "f", "flowType": "IVR", "steps": [_play("hold", "hold"), END]}
    (tmp_path / "f.json").write_text(json.dumps(doc, indent=2))
    result = run_cli("lint", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error IVR019 endless-loop: 'hold' leads to itself" in result.stdout
