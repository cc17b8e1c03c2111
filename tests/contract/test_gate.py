"""The gate: one verdict, one exit code, reports under reports/<run-id>/."""

from __future__ import annotations

import datetime
import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.contract.gate import make_run_id

from .conftest import API_KEY, CLIENTS, FLOWS, GUIDE_SPECS, OPENAPI, Live, invoke

SPECS = [a for s in GUIDE_SPECS for a in ("--spec", s)]
FAST = ["--max-examples", "40", "--provider-examples", "5"]


def _gate(
    flows: Path,
    reports: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    specs: list[str] = SPECS,
) -> tuple[int, str, Path]:
    run = invoke(
        "gate",
        flows,
        *specs,
        "--report-dir",
        reports,
        "--run-id",
        "test-run",
        *FAST,
        *extra,
        env={"NO_COLOR": "1", **(env or {})},
    )
    assert run.exception is None or isinstance(run.exception, SystemExit), run.exception
    return run.exit_code, run.stdout + run.stderr, reports / "test-run"


def test_run_id_is_utc_time_plus_seeded_suffix() -> None:
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    assert make_run_id(now, random.Random(7)) == make_run_id(now, random.Random(7))
    assert make_run_id(now, random.Random(7)).startswith("20260102T030405Z-")


def test_hardened_flows_pass_and_reports_are_written(tmp_path: Path) -> None:
    code, out, folder = _gate(FLOWS / "hardened", tmp_path)
    assert code == 0, out
    assert "GATE PASSED" in out and "\x1b[" not in out
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert (results["version"], results["verdict"], results["exit_code"]) == (1, "passed", 0)
    assert [p["name"] for p in results["parts"]] == ["lint", "budget", "consumer"]
    suites = ET.parse(folder / "junit.xml").getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["lint", "budget", "consumer"]
    assert all(s.get("failures") == "0" for s in suites)
    sarif = json.loads((folder / "lint.sarif").read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"


def test_hardened_flows_pass_against_live_backends(live: Live, tmp_path: Path) -> None:
    urls = [a for host, url in live.hosts.items() for a in ("--base-url", f"{host}={url}")]
    env = {"IVR_TEST_SECRET": CLIENTS["ivr-client"], "IVR_TEST_KEY": API_KEY}
    code, out, folder = _gate(
        FLOWS / "hardened",
        tmp_path,
        *urls,
        "--set-env",
        "oauth_client_secret=IVR_TEST_SECRET",
        "--set-env",
        "api_key_variable=IVR_TEST_KEY",
        env=env,
    )
    assert code == 0, out
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    providers = [p for p in results["parts"] if p["name"].startswith("provider ")]
    assert len(providers) == 3 and all(p["status"] == "passed" for p in providers)
    assert CLIENTS["ivr-client"] not in (folder / "results.json").read_text(encoding="utf-8")


def test_renamed_crm_field_fails_naming_step_mapping_and_spec_path(tmp_path: Path) -> None:
    drifted = tmp_path / "crm.yaml"
    text = (OPENAPI / "crm.yaml").read_text(encoding="utf-8")
    drifted.write_text(text.replace("loyalty_tier", "loyaltyTier"), encoding="utf-8")
    specs = ["--spec", f"api.crm-provider.com={drifted}", *SPECS[2:]]
    code, out, folder = _gate(FLOWS / "hardened", tmp_path / "reports", specs=specs)
    assert code == 1
    (line,) = [x for x in out.splitlines() if "loyalty_tier" in x]
    assert "http-customer-lookup" in line
    assert "#/paths/~1v2~1accounts/get/responses/200/content/application~1json/schema" in line
    junit = (folder / "junit.xml").read_text(encoding="utf-8")
    assert "path not in schema" in junit


def test_seed_flows_fail_with_the_json_body_injection(tmp_path: Path) -> None:
    code, out, folder = _gate(FLOWS / "seed", tmp_path)
    assert code == 1
    assert "GATE FAILED" in out
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    consumer = next(p for p in results["parts"] if p["name"] == "consumer")
    assert consumer["status"] == "failed"
    assert any("customer_profile.id" in p and "not valid JSON" in p for p in consumer["problems"])


def test_unreadable_input_is_exit_2_without_reports(tmp_path: Path) -> None:
    code, out, folder = _gate(tmp_path / "missing", tmp_path)
    assert code == 2
    assert out.startswith("error: ") and out.count("\n") == 1
    assert not folder.exists()


def test_a_part_that_crashes_is_an_error_part_in_one_line() -> None:
    from harness.contract.gate import Part, _timed

    def crashes() -> Part:
        return {}["missing"]  # type: ignore[no-any-return]

    part = _timed("budget", crashes)
    assert part.status == "error"
    assert part.problems == ("internal error in the budget part: KeyError: 'missing'",)


def test_a_crash_of_ours_in_a_command_is_one_harness_error_line() -> None:
    import pytest

    from harness.cli.gate import no_traceback
    from harness.errors import HarnessError

    with pytest.raises(HarnessError) as caught, no_traceback("checking flows"):
        raise RuntimeError("first line\nsecond line")
    assert str(caught.value) == "internal error while checking flows: RuntimeError: first line"
    with pytest.raises(HarnessError, match="^flows: bad$"), no_traceback("checking flows"):
        raise HarnessError("flows: bad")  # ours already: passed through unchanged
