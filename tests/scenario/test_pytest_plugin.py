"""The pytest route, by pytest's conventions: opt-in, one real item per scenario x flow set.

Each test runs pytest in a subprocess inside a fresh project (pytester), where the
plugin is loaded through its `pytest11` entry point as a user's pytest would load it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARDENED = ROOT / "contracts" / "flows" / "hardened"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with a scenario folder and an unrelated YAML file beside the scenario."""
    folder = pytester.mkdir("scenarios")
    shutil.copy(ROOT / "scenarios" / "happy-path.yaml", folder / "happy-path.yaml")
    (folder / "docker-compose.yaml").write_text("services: {toxiproxy: {image: x}}\n")
    return pytester


def test_without_the_opt_in_nothing_of_ours_is_collected(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "ivr_harness", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "happy-path" not in result.stdout.str()


def test_opted_in_folders_give_one_item_per_scenario_and_flow_set(
    project: pytest.Pytester,
) -> None:
    (project.path / "scenarios" / "docker-compose.yaml").unlink()
    project.makeini("[pytest]\nivr_scenarios = scenarios\n")
    result = project.runpytest_subprocess("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["scenarios/happy-path.yaml::happy-path[[]hardened[]]", "*happy-path[[]seed[]]"]
    )
    assert result.ret == pytest.ExitCode.OK


def test_each_item_runs_its_own_scenario_under_xdist(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "docker-compose.yaml").unlink()
    result = project.runpytest_subprocess(
        "--ivr-scenarios", "scenarios", "-n", "2", "--timeout", "60", "-p", "no:cacheprovider"
    )
    # hardened passes; the seed's known defects are expected failures
    result.assert_outcomes(passed=1, xfailed=1)


def test_k_selects_one_item_and_only_it_runs(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "docker-compose.yaml").unlink()
    result = project.runpytest_subprocess(
        "--ivr-scenarios", "scenarios", "--flows", str(HARDENED), "-k", "hardened", "--durations=1"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*call*happy-path[[]hardened[]]*"])


def test_a_malformed_scenario_is_one_collection_error_line(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "docker-compose.yaml").unlink()
    bad = "name: bad\ncalers: 3\nexpect: [{outcome: hangup}]\n"
    (project.path / "scenarios" / "bad.yaml").write_text(bad)
    result = project.runpytest_subprocess("--ivr-scenarios", "scenarios", "--collect-only")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*error: *bad.yaml#/calers*did you mean 'callers'*"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pytest_n2_gives_the_verdicts_ivr_harness_suite_gives(pytester: pytest.Pytester) -> None:
    import json
    import subprocess
    import sys
    import xml.etree.ElementTree as ET

    folder = pytester.mkdir("scenarios")
    for scenario in sorted((ROOT / "scenarios").glob("*.yaml")):
        shutil.copy(scenario, folder / scenario.name)
    suite = subprocess.run(
        [sys.executable, "-m", "harness.cli", "suite", str(folder), "--report-dir", "reports"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert suite.returncode == 0, suite.stdout + suite.stderr
    (report,) = (pytester.path / "reports").iterdir()
    expected = {
        r["id"]: r["verdict"] for r in json.loads((report / "results.json").read_text())["runs"]
    }
    result = pytester.runpytest_subprocess(
        "--ivr-scenarios", "scenarios", "-n", "2", "-p", "no:cacheprovider", "--junitxml=j.xml"
    )
    assert result.ret == pytest.ExitCode.OK
    seen = {}
    for case in ET.parse(pytester.path / "j.xml").getroot().iter("testcase"):
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            seen[case.get("name")] = "fail"
        elif skipped is not None and "xfail" in (skipped.get("type") or ""):
            seen[case.get("name")] = "expected_failure"
        elif skipped is not None:
            seen[case.get("name")] = "inconclusive"
        else:
            seen[case.get("name")] = "pass"
    assert seen == expected


def test_a_projects_configuration_names_its_scenarios_flows_and_backends(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.own_ivr import CONFIG, KEY_ENV, write_project

    # no ini key, no flag: the project's ivr-harness.toml opts in, as for `ivr-harness suite`
    write_project(pytester.path, config='scenarios = ["scenarios"]\n' + CONFIG)
    monkeypatch.setenv(KEY_ENV, "orders-key-5e1f")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "orders-503-twice.yaml").write_text(
        "name: orders-503-twice\nentry: order-status\n"
        "faults:\n  - target: api.orders.example.com\n"
        "    http: {kind: status, status: 503, times: 2}\n"
        "expect:\n  - step: {id: http-get-order, outcome: http_error, attempts: 2}\n"
        "  - outcome: transfer:orders-desk\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--timeout", "60", "-v")
    # the project's flow set ("flows"), its stub backend for the host, its API key; and,
    # as for `ivr-harness suite`, the battery derived from the flow, one item per run
    result.stdout.fnmatch_lines([
        "*orders-503-twice[[]flows[]] PASSED*",
        "scenarios::battery::battery-order-status-http-get-order-baseline[[]flows[]] PASSED*",
        "scenarios::battery::battery-order-status-http-get-order-timeout[[]flows[]] PASSED*",
    ])  # fmt: skip
    result.assert_outcomes(passed=14)  # the hand scenario and 13 battery runs
    one = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "get-order-timeout")
    one.assert_outcomes(passed=1)


def test_a_project_whose_secret_is_unset_is_one_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.own_ivr import CONFIG, KEY_ENV, write_project

    write_project(pytester.path, config='scenarios = ["scenarios"]\n' + CONFIG)
    (pytester.path / "scenarios").mkdir()
    monkeypatch.delenv(KEY_ENV, raising=False)
    result = pytester.runpytest_subprocess("--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*error: *{KEY_ENV}*"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
