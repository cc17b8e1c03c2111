"""A scenario that names something that does not exist fails at load time, not mid-run."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.scenario.model import load_scenario
from tests.fixtures.cli_run import assert_one_line_error, run_cli
from tests.fixtures.flows import HARDENED

HEAD = "name: x\n"
OK_EXPECT = "expect: [{outcome: hangup}]\n"


@pytest.mark.parametrize(
    "body,pointer,needles",
    [
        (
            "faults: [{target: mainframe, toxic: {type: latency}}]\n" + OK_EXPECT,
            "#/faults/0/target",
            [
                "fault target 'mainframe' is not a proxied backend",
                "known: api.crm-provider.com, api.service-provider.com, auth.crm-provider.com, crm",
            ],
        ),
        (
            "faults: [{target: crn, disable: true}]\n" + OK_EXPECT,
            "#/faults/0/target",
            ["did you mean 'crm'?"],
        ),
        (
            "faults: [{target: crm, http: {kind: stroms}}]\n" + OK_EXPECT,
            "#/faults/0/http/kind",
            ["unknown fault kind 'stroms'"],
        ),
        (
            "faults: [{target: crm, http: {kind: accepted}}]\n" + OK_EXPECT,
            "#/faults/0/http/kind",
            ["this backend does not support fault kind 'accepted'"],
        ),
        (
            "faults: [{target: tickets, http: {kind: status, status: 503, tims: 2}}]\n" + OK_EXPECT,
            "#/faults/0/http/tims",
            ["unexpected key 'tims'", "did you mean 'times'?"],
        ),
        (
            "faults: [{dns: {kind: nxdomain}}]\n" + OK_EXPECT,
            "#/faults/0",
            ["needs a 'target' or a 'host'"],
        ),
        (
            "faults: [{target: ldap, dns: {kind: nxdomain}}]\n" + OK_EXPECT,
            "#/faults/0/target",
            ["not a backend with a known host"],
        ),
        (
            "expect: [{outcome: hangup}, {title: t}]\n",
            "#/expect/1",
            ["this expectation checks nothing", "add one of: alert, breaker"],
        ),
        (
            "expect: [{requests: {backend: tikets, max: 1}}]\n",
            "#/expect/0/requests/backend",
            ["backend 'tikets' is not a backend of this run", "did you mean 'tickets'?"],
        ),
    ],
    ids=[
        "toxic-target",
        "typo-target",
        "http-kind",
        "kind-elsewhere",
        "http-key",
        "dns-no-host",
        "dns-target",
        "title-only",
        "requests-backend",
    ],
)
def test_bad_reference_is_a_config_error_at_load_time(
    tmp_path: Path, body: str, pointer: str, needles: list[str]
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + body)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}{pointer}: "), message
    for needle in needles:
        assert needle in message


def test_references_that_exist_still_load(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        HEAD
        + "backends: {api.crm-provider.com: 'http://127.0.0.1:9'}\n"
        + "faults:\n"
        + "  - {target: api-crm-provider-com, toxic: {type: latency}}\n"
        + "  - {target: tickets, http: {kind: accepted, callbackAfterMs: 10}}\n"
        + "  - {target: oauth, dns: {kind: stall, stall_ms: 5}}\n"
        + OK_EXPECT
    )
    assert len(load_scenario(path).faults) == 3


def test_suite_with_an_unknown_target_exits_2_naming_file_and_pointer(tmp_path: Path) -> None:
    scenario = tmp_path / "typo.yaml"
    scenario.write_text(
        HEAD + "faults: [{target: mainframe, toxic: {type: latency}}]\n" + OK_EXPECT
    )
    result = run_cli("suite", str(scenario), "--report-dir", str(tmp_path / "r"))
    assert_one_line_error(result, f"{scenario}#/faults/0/target", "mainframe")


def test_call_with_an_unknown_flow_names_the_flow_folder() -> None:
    result = run_cli("call", str(HARDENED), "--flow", "nope")
    assert_one_line_error(result, f"{HARDENED}: unknown flow id 'nope'", "customer-lookup-ivr")


def test_a_target_may_name_the_flow_host(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        HEAD
        + "faults: [{target: api.crm-provider.com, http: {kind: status, status: 503}},"
        + " {target: api.orders.example.com, http: {kind: empty}},"
        + " {target: api.orders.example.com, toxic: {type: latency}}]\n"
        + OK_EXPECT
    )
    scenario = load_scenario(path, hosts=["api.orders.example.com"])
    assert [f.target for f in scenario.faults][1] == "api.orders.example.com"


def test_a_misspelt_project_host_gets_a_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        HEAD + "faults: [{target: api.order.example.com, http: {kind: malformed}}]\n" + OK_EXPECT
    )
    with pytest.raises(ConfigError) as info:
        load_scenario(path, hosts=["api.orders.example.com"])
    assert info.value.pointer == "/faults/0/target"
    assert "did you mean 'api.orders.example.com'?" in str(info.value)


def test_a_fault_aimed_at_a_step_that_is_no_http_step_is_refused(tmp_path: Path) -> None:
    from harness.scenario.runner import check_step_references, load_flow_sets

    path = tmp_path / "s.yaml"
    path.write_text(
        HEAD + "faults: [{target: crm, step: http-customer-lookp, http: {kind: empty}}]\n"
        + OK_EXPECT
    )
    scenario = load_scenario(path)
    with pytest.raises(ConfigError) as info:
        check_step_references([scenario], load_flow_sets([HARDENED]))
    message = str(info.value)
    assert "s.yaml#/faults/0/step" in message
    assert "step 'http-customer-lookp' is no HTTP Request step" in message
    assert "did you mean 'http-customer-lookup'?" in message
