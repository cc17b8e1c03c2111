"""IVR007 leaves alone a variable only the keypad fills ('#' ends the entry)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.flow.lint import lint_flow_set
from tests.fixtures.flows import flow_set


def _flow(collect: dict[str, Any], *, also_set: bool = False) -> Any:
    steps: list[dict[str, Any]] = [
        {"id": "collect", "type": "CollectDigits", "configuration": collect, "nextStepId": "http"},
        {
            "id": "http",
            "type": "HTTPRequest",
            "configuration": {
                "url": "https://api.example/v1/orders/{{digits}}",
                "method": "GET",
                "timeout": 2000,
            },
            "nextStepId": "bye",
        },
        {"id": "bye", "type": "Hangup", "configuration": {}},
    ]
    if also_set:
        steps.insert(1, {
            "id": "overwrite", "type": "DataAPI",
            "configuration": {"operation": "evaluate", "expression": "'a b'",
                              "resultVariable": "digits"},
            "nextStepId": "http",
        })  # fmt: skip
        steps[0]["nextStepId"] = "overwrite"
    return flow_set({"id": "f", "name": "f", "flowType": "IVR", "steps": steps})


@pytest.mark.parametrize(
    ("collect", "also_set", "flagged"),
    [
        ({"variable": "digits", "terminator": "#"}, False, False),
        ({"variable": "digits"}, False, True),  # '#' can be in the value: a URL fragment
        ({"variable": "digits", "terminator": "#"}, True, True),  # not only the keypad
    ],
)
def test_keypad_only_variables_are_url_safe(
    collect: dict[str, Any], also_set: bool, flagged: bool
) -> None:
    found = [f for f in lint_flow_set(_flow(collect, also_set=also_set)) if f.rule_id == "IVR007"]
    assert bool(found) is flagged
