"""Each rule on a minimal flow, both directions; config, suppression and CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.errors import ConfigError
from harness.flow.lint import RULES, LintConfig, lint_flow_set
from harness.flow.loader import parse_flow
from harness.flow.model import FlowSet

ROOT = Path(__file__).resolve().parents[2]
END = {"id": "end", "type": "Hangup", "configuration": {}}


def _set(steps: list[dict[str, Any]], **extra: Any) -> FlowSet:
    doc = {"id": "f", "name": "f", "flowType": "IVR", "steps": steps, **extra}
    return FlowSet(flows={"f": parse_flow(doc, source=json.dumps(doc, indent=1))})


def _http(next_id: str = "end", **config: Any) -> dict[str, Any]:
    base = {"url": "https://x/", "method": "GET", "timeout": 1000}
    return {
        "id": "h",
        "type": "HTTPRequest",
        "nextStepId": next_id,
        "configuration": {**base, **config},
    }


def _rules(flows: FlowSet) -> set[str]:
    return {f.rule_id for f in lint_flow_set(flows)}


def test_registry_ids_are_stable_and_documented() -> None:
    assert list(RULES) == [f"IVR{n:03d}" for n in range(1, 21)]
    docs = (ROOT / "docs" / "lint-rules.md").read_text(encoding="utf-8")
    for rule in RULES.values():
        assert f"## {rule.id} {rule.name}" in docs
        assert rule.rationale and rule.help


@pytest.mark.parametrize(
    ("config", "rule_id"),
    [
        ({"timeout": None}, "IVR001"),
        ({"timeout": 8000}, "IVR002"),
        ({"retryPolicy": {"maxRetries": 1, "retryOnStatusCodes": [404]}}, "IVR003"),
        ({"method": "POST", "retryPolicy": {"maxRetries": 1}}, "IVR004"),
        ({"url": "https://x/a?q={{ani}}"}, "IVR007"),
        ({"body": '{"a": "{{ani}}"}', "method": "POST"}, "IVR008"),
        (
            {"authentication": {"type": "apiKey", "headerName": "K", "headerValue": "s3cr3t"}},
            "IVR016",
        ),
        ({"headers": {"Authorization": "Bearer abcdefghijklmnopqrstuvwxyz012345"}}, "IVR016"),
        ({"url": "https://x/a?q={{nobody_sets_this}}"}, "IVR015"),
    ],
)
def test_http_rule_fires(config: dict[str, Any], rule_id: str) -> None:
    step = _http(**config)
    step["configuration"] = {k: v for k, v in step["configuration"].items() if v is not None}
    assert rule_id in _rules(_set([step, END]))


def test_safe_variants_do_not_fire() -> None:
    step = _http(
        method="POST",
        url="https://{{env}}.x/a?q={{encodeUriComponent(ani)}}",
        headers={"Idempotency-Key": "{{flow_execution_id}}"},
        body={"a": "{{ani}}"},
        retryPolicy={"maxRetries": 1, "retryOnStatusCodes": [429, 503]},
    )
    assert _rules(_set([step, END], variables={"env": "prod"})) <= {"IVR012"}


def _router(conditions: list[tuple[str, str]], default: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "conditions": [{"expression": e, "nextStepId": n} for e, n in conditions]
    }
    if default:
        config["defaultStepId"] = default
    return {"id": "r", "type": "Condition", "configuration": config}


def test_router_that_catches_everything_below_500_routes_403_to_success() -> None:
    flows = _set(
        [
            _http(next_id="r"),
            _router([("http_status_code < 500", "ok")], "end"),
            {"id": "ok", "type": "Transfer", "configuration": {"queue": "q"}},
            END,
        ]
    )
    messages = [f.message for f in lint_flow_set(flows) if f.rule_id == "IVR011"]
    assert any("'403'" in m for m in messages) and any("'timeout'" in m for m in messages)


@pytest.mark.parametrize("code", [200, 201])
def test_router_testing_one_success_code_keeps_its_default_a_fallback(code: int) -> None:
    # Found by the generated population (issue 19): a GET router testing `== 200` sent
    # a 201 to its default, which the lint then took for the success branch and
    # reported every error class reaching it; a POST testing `== 201`, the same with 200.
    flows = _set(
        [
            _http(next_id="r", responseMapping={"name": "$.name"}),
            _router(
                [
                    (f"http_status_code == {code} && name != null", "ok"),
                    ("http_status_code >= 500", "busy"),
                ],
                "sorry",
            ),
            {"id": "ok", "type": "Transfer", "configuration": {"queue": "q"}},
            {"id": "busy", "type": "Voicemail", "configuration": {"prompt": "m"}},
            {"id": "sorry", "type": "Play", "configuration": {"prompt": "x"}, "nextStepId": "end"},
            END,
        ]
    )
    assert [f.message for f in lint_flow_set(flows) if f.rule_id in ("IVR011", "IVR012")] == []
    # ... and a 403 sent to the success step is still reported.
    flows = _set(
        [
            _http(next_id="r", responseMapping={"name": "$.name"}),
            _router(
                [
                    (f"http_status_code == {code} || http_status_code == 403", "ok"),
                    ("http_status_code >= 500", "busy"),
                ],
                "sorry",
            ),
            {"id": "ok", "type": "Transfer", "configuration": {"queue": "q"}},
            {"id": "busy", "type": "Voicemail", "configuration": {"prompt": "m"}},
            {"id": "sorry", "type": "Play", "configuration": {"prompt": "x"}, "nextStepId": "end"},
            END,
        ]
    )
    assert any("'403'" in f.message for f in lint_flow_set(flows) if f.rule_id == "IVR011")


def _swapped(say: str, **http: Any) -> list[str]:
    """A lookup router whose 404 branch and success branch were swapped: the 404 goes
    (through a hold prompt) to a step that uses the answer as `say`."""
    flows = _set(
        [
            _http(next_id="r", responseMapping={"plan": "$.plan"}, **http),
            _router(
                [
                    ("http_outcome == 'success' && plan != null", "not-found"),
                    ("http_status_code == 404", "hold"),
                    ("http_status_code >= 500", "busy"),
                ],
                "busy",
            ),
            {"id": "hold", "type": "Play", "configuration": {"prompt": "One moment."},
             "nextStepId": "say"},
            {"id": "say", "type": "Play", "configuration": {"prompt": say}, "nextStepId": "end"},
            {"id": "not-found", "type": "Play", "configuration": {"prompt": "No match."},
             "nextStepId": "end"},
            {"id": "busy", "type": "Voicemail", "configuration": {"prompt": "m"}},
            END,
        ]
    )  # fmt: skip
    return [f.message for f in lint_flow_set(flows) if f.rule_id == "IVR011"]


def test_a_failure_routed_to_where_the_answer_is_used_is_error_routed_to_success() -> None:
    # Found by the generated population (issue 19): with the branches swapped, the router
    # alone says the 'not-found' prompt is the success branch. The step that speaks the
    # mapped `plan` is: a 404 leaves it null, and the caller hears "Your plan is null".
    [message] = _swapped("Your plan is {{plan}}.")
    assert "outcome '404'" in message and "which reads 'plan'" in message
    assert _swapped("See /plans/{{encodeUriComponent(plan)}}.")  # a function of it reads it
    # A template that stands in for a null, or a defaultResponse that gives a value: clean.
    assert _swapped("Your plan is {{plan || 'not known'}}.") == []
    assert _swapped("Your plan is {{coalesce(plan, 'not known')}}.") == []
    assert _swapped("Your plan is {{plan}}.", defaultResponse={"plan": "basic"}) == []


def _sub_flow_swapped(parent_guard: str) -> list[str]:
    """A SubFlow whose router sends a 5xx to the step that returns 'ok'; the calling
    flow's router sends 'ok' (and `parent_guard`) to the step that speaks the balance."""
    child = [
        _http(next_id="r", responseMapping={"balance": "$.balance"}),
        _router(
            [
                ("http_status_code >= 500", "mark-ok"),
                ("http_outcome == 'success' && balance != null", "mark-ok"),
            ],
            "mark-down",
        ),
        {"id": "mark-ok", "type": "DataAPI", "nextStepId": "done",
         "configuration": {"operation": "evaluate", "expression": "'ok'",
                           "resultVariable": "result"}},
        {"id": "mark-down", "type": "DataAPI", "nextStepId": "done",
         "configuration": {"operation": "evaluate", "expression": "'down'",
                           "resultVariable": "result"}},
        {"id": "done", "type": "Return", "configuration": {}},
    ]  # fmt: skip
    parent = [
        {"id": "call", "type": "SubFlow", "nextStepId": "r",
         "configuration": {"flowId": "lookup", "returnVariables": ["result", "balance"]}},
        _router([("subflow_error", "sorry"), (f"result == 'ok'{parent_guard}", "say")], "sorry"),
        {"id": "say", "type": "Play", "configuration": {"prompt": "You owe {{balance}}."},
         "nextStepId": "end"},
        {"id": "sorry", "type": "Play", "configuration": {"prompt": "Sorry."}, "nextStepId": "end"},
        END,
    ]  # fmt: skip
    docs = [
        {"id": "lookup", "name": "lookup", "flowType": "SubFlow", "steps": child},
        {"id": "main", "name": "main", "flowType": "IVR", "steps": parent},
    ]
    flows = FlowSet(flows={d["id"]: parse_flow(d, source=json.dumps(d, indent=1)) for d in docs})
    return [f.message for f in lint_flow_set(flows) if f.rule_id == "IVR011"]


def test_a_failure_a_sub_flow_returns_as_ok_is_error_routed_to_success() -> None:
    # Found by the generated population: inside the SubFlow, the 5xx and the 2xx both
    # reach 'mark-ok', so the router alone takes it for the fallback. The calling flow says
    # where the answer is used: 'ok' leads to the prompt that speaks the returned balance,
    # null after a 5xx.
    [message] = _sub_flow_swapped("")
    assert "outcome '5xx'" in message and "'mark-ok'" in message
    assert "returns to 'main', where 'say' reads 'balance'" in message
    # A caller that checks the returned value itself never speaks a null: clean.
    assert _sub_flow_swapped(" && balance != null") == []


def test_router_naming_every_class_is_clean() -> None:
    flows = _set(
        [
            _http(next_id="r"),
            _router([("http_outcome == 'success'", "ok")], "end"),
            {"id": "ok", "type": "Transfer", "configuration": {"queue": "q"}},
            END,
        ]
    )
    assert _rules(flows) == set()


def test_dead_end_and_dangling() -> None:
    flows = _set(
        [
            {"id": "p", "type": "Play", "configuration": {"prompt": "x"}, "nextStepId": "c"},
            {
                "id": "c",
                "type": "Condition",
                "configuration": {"conditions": [{"expression": "ani", "nextStepId": "gone"}]},
            },
        ]
    )
    assert {"IVR013", "IVR014"} <= _rules(flows)


def test_inline_lint_field_suppresses_and_changes_severity() -> None:
    step = _http(timeout=None)
    del step["configuration"]["timeout"]
    step["lint"] = {"IVR001": "note"}
    (finding,) = [f for f in lint_flow_set(_set([step, END])) if f.rule_id == "IVR001"]
    assert finding.severity == "note"
    step["lint"] = {"IVR001": "off"}
    assert "IVR001" not in _rules(_set([step, END]))


def test_inline_lint_field_with_unknown_rule_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="did you mean 'missing-timeout'"):
        lint_flow_set(_set([_http(), END], lint={"missing-timout": "off"}))


def test_config_file(tmp_path: Path) -> None:
    path = tmp_path / ".ivr-harness.toml"
    path.write_text(
        '[lint]\ndead-air-ms = 9000\n[lint.rules]\nmissing-timeout = "warning"\n'
        '[[lint.ignore]]\nrule = "IVR002"\nflow = "f"\n'
    )
    config = LintConfig.load(path)
    assert config.dead_air_ms == 9000 and config.levels == {"IVR001": "warning"}
    step = _http(timeout=None)
    del step["configuration"]["timeout"]
    findings = lint_flow_set(_set([step, END]), config=config)
    assert {(f.rule_id, f.severity) for f in findings if f.rule_id in ("IVR001", "IVR002")} == {
        ("IVR001", "warning")
    }


@pytest.mark.parametrize(
    ("text", "pointer", "hint"),
    [
        ('{"lint": {"rules": {"IVR0003": "off"}}}', "/lint/rules/IVR0003", "did you mean"),
        ('{"rules": {"IVR003": "of"}}', "/rules/IVR003", "did you mean 'off'"),
        ('{"lint": {"rule": {}}}', "/lint/rule", "did you mean 'rules'"),
    ],
)
def test_config_errors_name_file_pointer_and_fix(
    tmp_path: Path, text: str, pointer: str, hint: str
) -> None:
    path = tmp_path / "lint.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        LintConfig.load(path)
    message = str(info.value)
    assert info.value.pointer == pointer and hint in message and str(path) in message


def test_cli_lint_exit_codes_and_formats(tmp_path: Path) -> None:
    runner = CliRunner()
    seed = str(ROOT / "contracts" / "flows" / "seed")
    result = runner.invoke(main, ["lint", seed])
    assert result.exit_code == 1 and "IVR011 error-routed-to-success" in result.output
    assert result.output.strip().splitlines()[-1].startswith("23 finding(s)")
    out = tmp_path / "lint.sarif"
    result = runner.invoke(main, ["lint", seed, "--format", "sarif", "--output", str(out)])
    assert result.exit_code == 1 and json.loads(out.read_text())["version"] == "2.1.0"
    result = runner.invoke(main, ["lint", seed, "--format", "json"])
    assert json.loads(result.output)["summary"]["total"] == 23


def test_cli_lint_is_clean_when_errors_are_configured_away(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"rules": {r: "warning" for r in RULES}}))
    hardened = str(ROOT / "contracts" / "flows" / "hardened")
    result = CliRunner().invoke(main, ["lint", hardened, "--lint-config", str(config)])
    assert result.exit_code == 0, result.output


def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text('{"rules": {"IVR999": "off"}}')
    seed = str(ROOT / "contracts" / "flows" / "seed")
    result = CliRunner().invoke(main, ["lint", seed, "--lint-config", str(config)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "IVR999" in result.output
    result = CliRunner().invoke(main, ["lint", str(tmp_path / "missing")])
    assert result.exit_code == 2


def test_cli_budget() -> None:
    runner = CliRunner()
    flows = str(ROOT / "contracts" / "flows" / "hardened")
    result = runner.invoke(main, ["budget", flows, "--format", "json"])
    assert result.exit_code == 0
    worst = max(f["worst_silence_ms"] for f in json.loads(result.output)["flows"])
    assert worst == 8000
    result = runner.invoke(main, ["budget", flows, "--dead-air-ms", "7999"])
    assert result.exit_code == 1 and "OVER BUDGET" in result.output


def _slot_router(expression: str) -> list[dict[str, Any]]:
    mapping = {"slot_id": "$.slots[0].id"}
    router = {
        "id": "r",
        "type": "Condition",
        "configuration": {
            "conditions": [{"expression": expression, "nextStepId": "say"}],
            "defaultStepId": "end",
        },
    }
    say = {
        "id": "say",
        "type": "Play",
        "configuration": {"prompt": "Slot {{slot_id}}."},
        "nextStepId": "end",
    }
    return [_http("r", responseMapping=mapping), router, say, END]


@pytest.mark.parametrize(
    "guard",
    [
        "http_outcome == 'success' && slot_id != null",
        "slot_id !== null",
        "http_outcome == 'success' && slot_id",
        "null == slot_id || http_status_code >= 400",
    ],
)
def test_an_index_mapping_the_router_checks_for_null_is_guarded(guard: str) -> None:
    # `$.slots[0].id` of an empty list maps to null; a router testing that null guards it.
    assert "IVR006" not in _rules(_set(_slot_router(guard)))


@pytest.mark.parametrize("guard", ["http_outcome == 'success'", "other != null"])
def test_an_index_mapping_nobody_checks_is_unguarded(guard: str) -> None:
    assert "IVR006" in _rules(_set(_slot_router(guard)))
