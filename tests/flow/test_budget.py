from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.flow.budget import flow_budget, format_budget_text, step_budget
from harness.flow.loader import load_flow_set, parse_flow
from harness.flow.model import FlowSet
from harness.flow.profile import CXONE

FLOWS = Path(__file__).resolve().parents[2] / "contracts" / "flows"


def _flow(steps: list[dict[str, Any]]) -> FlowSet:
    flow = parse_flow({"id": "f", "name": "f", "flowType": "IVR", "steps": steps})
    return FlowSet(flows={"f": flow})


def _http(**config: Any) -> dict[str, Any]:
    return {
        "id": "h",
        "type": "HTTPRequest",
        "nextStepId": "end",
        "configuration": {"url": "https://x/", "method": "GET", **config},
    }


END = {"id": "end", "type": "Hangup", "configuration": {}}


def _budget(**config: Any) -> int:
    flows = _flow([_http(**config), END])
    flow = flows.flows["f"]
    return step_budget(flow.steps[0], flow, CXONE).worst_ms


def test_missing_timeout_costs_the_platform_default() -> None:
    assert _budget() == 30_000


def test_attempts_times_timeout_plus_exponential_backoff() -> None:
    retry = {"maxRetries": 2, "backoff": "exponential", "retryOnStatusCodes": [502]}
    assert _budget(timeout=1000, retryPolicy=retry) == 3 * 1000 + 200 + 400


def test_retry_after_up_to_max_delay_when_503_is_retried() -> None:
    retry = {"maxRetries": 2, "maxDelayMs": 1500, "retryOnStatusCodes": [503]}
    assert _budget(timeout=1000, retryPolicy=retry) == 3 * 1000 + 1500 + 1500


def test_oauth2_adds_a_fetch_per_attempt_and_the_reauth_retry() -> None:
    auth = {
        "type": "oauth2",
        "clientId": "c",
        "clientSecret": "{{s}}",
        "tokenEndpoint": "https://t/",
    }
    retry = {"maxRetries": 1, "backoff": "fixed", "initialDelayMs": 300}
    # 2 attempts + 1 re-auth attempt, 3 token fetches, one fixed delay
    assert _budget(timeout=1000, retryPolicy=retry, authentication=auth) == 6 * 1000 + 300


@pytest.mark.parametrize(("wait", "audio"), [({"progressPromptEveryMs": 5000}, 9000), ({}, 0)])
def test_wait_is_audio_only_with_progress_prompts(wait: dict[str, Any], audio: int) -> None:
    config = {"key": "k", "maxWaitMs": 9000, **wait}
    flows = _flow([{"id": "w", "type": "Wait", "configuration": config, "nextStepId": "end"}, END])
    report = flow_budget(flows, "f", CXONE, 8000)
    assert report.steps[0].audio_ms == audio
    assert report.over_budget is (audio == 0)


def test_a_prompt_resets_the_silence() -> None:
    play = {
        "id": "p",
        "type": "Play",
        "configuration": {"prompt": "hi", "durationMs": 500},
        "nextStepId": "h2",
    }
    h2 = {**_http(timeout=3000), "id": "h2"}
    flows = _flow([{**_http(timeout=3000), "nextStepId": "p"}, play, h2, END])
    report = flow_budget(flows, "f", CXONE, 5000)
    (path,) = report.paths
    assert (path.silent_ms, path.audio_ms, path.longest_silence_ms) == (6000, 500, 3000)
    assert not report.over_budget


def test_cycles_are_cut() -> None:
    cond = {
        "id": "c",
        "type": "Condition",
        "configuration": {
            "conditions": [{"expression": "x", "nextStepId": "h"}],
            "defaultStepId": "end",
        },
    }
    flows = _flow([{**_http(timeout=100), "nextStepId": "c"}, cond, END])
    ends = sorted(p.end for p in flow_budget(flows, "f").paths)
    assert ends == ["cycle", "terminal"]


def test_seed_versus_hardened_customer_lookup() -> None:
    seed = flow_budget(load_flow_set(FLOWS / "seed"), "customer-lookup-ivr")
    hardened = flow_budget(load_flow_set(FLOWS / "hardened"), "customer-lookup-ivr")
    assert seed.worst_silence_ms == 48_000
    assert hardened.worst_silence_ms == 8_000  # exactly the default dead-air budget
    text = format_budget_text([seed, hardened])
    assert "OVER BUDGET" in text and "http" not in text.split("\n")[2]
    assert seed.to_json()["paths"][0]["steps"][0] == "customer-lookup-ivr/welcome"


def _router_flow(*ends: dict[str, Any]) -> FlowSet:
    """A router with one branch per terminal step, and a default that goes nowhere."""
    conditions = [{"expression": f"x == {i}", "nextStepId": e["id"]} for i, e in enumerate(ends)]
    router = {
        "id": "r",
        "type": "Condition",
        "configuration": {"conditions": conditions, "defaultStepId": "missing"},
    }
    return _flow([router, *ends])


def test_each_path_names_the_terminal_it_ends_at() -> None:
    flows = _router_flow(
        {"id": "desk", "type": "Transfer", "configuration": {"queue": "front-desk"}},
        {"id": "vm", "type": "Voicemail", "configuration": {}},
        {"id": "bye", "type": "Hangup", "configuration": {}},
    )
    report = flow_budget(flows, "f")
    assert [p.terminal for p in report.paths] == [
        "transfer:front-desk",
        "voicemail",
        "hangup",
        "dead end after f/r",
    ]
    assert report.to_json()["paths"][0]["terminal"] == "transfer:front-desk"
    text = format_budget_text([report])
    assert "-> transfer:front-desk (f/desk)" in text
    assert "-> dead end after f/r" in text


def test_a_cycle_and_a_sub_flow_return_are_named_too() -> None:
    cond = {
        "id": "c",
        "type": "Condition",
        "configuration": {
            "conditions": [{"expression": "x", "nextStepId": "h"}],
            "defaultStepId": "ret",
        },
    }
    ret = {"id": "ret", "type": "Return", "configuration": {}}
    flows = _flow([{**_http(timeout=100), "nextStepId": "c"}, cond, ret])
    assert sorted(p.terminal for p in flow_budget(flows, "f").paths) == [
        "cycle back to f/h",
        "return from f",
    ]


def test_the_terminal_reached_through_a_sub_flow_is_the_childs() -> None:
    hardened = flow_budget(load_flow_set(FLOWS / "hardened"), "customer-lookup-ivr")
    assert {p.terminal for p in hardened.paths} == {"transfer:agent-queue"}


def test_budget_over_the_cli_names_terminals_and_refuses_duplicate_flow_ids(
    tmp_path: Path,
) -> None:
    from tests.fixtures.cli_run import assert_one_line_error, run_cli

    clinic = Path(__file__).resolve().parents[1] / "contract" / "data" / "clinic" / "flows"
    text = (clinic / "clinic-booking.json").read_text()
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "clinic.json").write_text(text)
    done = run_cli("budget", "flows", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "-> transfer:front-desk (clinic-booking/to-front-desk)" in done.stdout
    assert "-> hangup (clinic-booking/bye)" in done.stdout
    (tmp_path / "flows" / "clinic-copy.json").write_text(text)
    spec = f"api.clinic.example.com={clinic.parent / 'openapi' / 'clinic.yaml'}"
    for command in (["budget"], ["lint"], ["gate", "--spec", spec], ["contract", "--spec", spec]):
        done = run_cli(*command, "flows", cwd=tmp_path)
        line = assert_one_line_error(done, "flow id 'clinic-booking'")
        assert "flows/clinic-copy.json" in line and "flows/clinic.json" in line, line
