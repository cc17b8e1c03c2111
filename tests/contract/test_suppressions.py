"""Suppressions with a reason: baseline files, justified lint ignores, expiry, SARIF."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.contract.gate import GateOptions, run_gate
from harness.report.gate import write_reports
from tests.contract.conftest import FLOWS, GUIDE_SPECS, invoke

ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = ROOT / ".." / "shared" / "corpus" / "schemas" / "sarif-schema-2.1.0.json"
TODAY = datetime.date(2026, 6, 1)


def _options(tmp_path: Path, **extra: object) -> GateOptions:
    return GateOptions(
        flows=FLOWS / "seed",
        specs=GUIDE_SPECS,
        report_dir=tmp_path,
        max_examples=10,
        run_id="supp",
        today=TODAY,
        **extra,  # type: ignore[arg-type]
    )


def _baseline(tmp_path: Path, *entries: dict[str, object]) -> Path:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"version": 1, "suppressions": list(entries)}))
    return path


IVR007 = {
    "rule": "IVR007",
    "flow": "customer-integration",
    "step": "http-customer-lookup",
    "reason": "the CRM accepts only digits here",
}
INJECTION = {"rule": "injection", "flow": "ticket-submit", "reason": "reviewed"}


def test_suppressed_findings_leave_the_verdict_and_are_reported_apart(tmp_path: Path) -> None:
    plain = run_gate(_options(tmp_path))
    baseline = _baseline(tmp_path, IVR007, {**INJECTION, "expires": "2026-12-31"})
    result = run_gate(_options(tmp_path, baseline=baseline))
    lint = {p.name: p for p in result.parts}["lint"]
    assert not any("IVR007" in line for line in lint.problems)
    assert any("IVR007" in line for line in {p.name: p for p in plain.parts}["lint"].problems)
    held = result.suppressed
    assert {getattr(s.finding, "rule_id", None) or s.finding.check for s in held} == {
        "IVR007",
        "injection",
    }
    part = {p.name: p for p in result.parts}["suppressions"]
    assert part.status == "passed"
    assert part.details["suppressed"][0]["suppression"]["reason"]


def test_an_expired_suppression_fails_the_gate_and_suppresses_nothing(tmp_path: Path) -> None:
    baseline = _baseline(tmp_path, {**IVR007, "expires": "2026-05-31"})
    result = run_gate(_options(tmp_path, baseline=baseline))
    part = {p.name: p for p in result.parts}["suppressions"]
    assert part.status == "failed"
    assert "expired on 2026-05-31" in part.problems[0]
    assert "baseline.json#/suppressions/0" in part.problems[0]
    lint = {p.name: p for p in result.parts}["lint"]
    assert any("IVR007" in line for line in lint.problems)


def test_a_justified_lint_ignore_is_a_suppression_in_the_gate(tmp_path: Path) -> None:
    config = tmp_path / "lint.toml"
    config.write_text(
        '[[lint.ignore]]\nrule = "IVR007"\nflow = "customer-integration"\n'
        'step = "http-customer-lookup"\nreason = "digits only"\nexpires = 2027-01-31\n'
    )
    result = run_gate(_options(tmp_path, lint_config=config))
    assert [s.by.reason for s in result.suppressed] == ["digits only"]


@pytest.fixture(scope="module")
def suppressed_sarif(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The gate's lint.sarif with IVR007 suppressed by a baseline."""
    tmp_path = tmp_path_factory.mktemp("sarif")
    result = run_gate(_options(tmp_path, baseline=_baseline(tmp_path, IVR007)))
    out = write_reports(result, tmp_path)
    log: dict[str, Any] = json.loads((out / "lint.sarif").read_text())
    return log


def test_sarif_carries_suppressed_results(suppressed_sarif: dict[str, Any]) -> None:
    # Needs no schema: runs in every checkout.
    results = suppressed_sarif["runs"][0]["results"]
    suppressed = [r for r in results if r.get("suppressions")]
    assert [r["ruleId"] for r in suppressed] == ["IVR007"]
    assert suppressed[0]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": IVR007["reason"]}
    ]
    assert all("suppressions" not in r for r in results if r["ruleId"] != "IVR007")


def test_sarif_with_suppressed_results_validates_against_the_2_1_0_schema(
    suppressed_sarif: dict[str, Any],
) -> None:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"SARIF schema not available at {SARIF_SCHEMA}")
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text())).validate(suppressed_sarif)


@pytest.mark.parametrize(
    ("entry", "pointer"),
    [
        ({"rule": "IVR007", "flow": "f"}, "/suppressions/0/reason"),
        ({**IVR007, "expires": "soon"}, "/suppressions/0/expires"),
        ({**IVR007, "reson": "x"}, "/suppressions/0/reson"),
        ({**IVR007, "rule": "IVR999"}, "/suppressions/0/rule"),
    ],
)
def test_a_bad_baseline_is_exit_2_naming_file_and_pointer(
    tmp_path: Path, entry: dict[str, object], pointer: str
) -> None:
    baseline = _baseline(tmp_path, entry)
    run = invoke(
        "gate", FLOWS / "seed", *[a for s in GUIDE_SPECS for a in ("--spec", s)],
        "--report-dir", tmp_path, "--baseline", baseline,
    )  # fmt: skip
    assert run.exit_code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and f"baseline.json#{pointer}" in lines[0]


def test_write_baseline_then_gate_with_it_passes_lint_and_consumer(tmp_path: Path) -> None:
    specs = [a for s in GUIDE_SPECS for a in ("--spec", s)]
    baseline = tmp_path / "bl.json"
    first = invoke(
        "gate", FLOWS / "seed", *specs, "--report-dir", tmp_path, "--max-examples", "10",
        "--write-baseline", baseline,
    )  # fmt: skip
    assert first.exit_code == 1
    entries = json.loads(baseline.read_text())["suppressions"]
    assert entries and all(e["reason"].startswith("baselined on ") for e in entries)
    second = invoke(
        "gate", FLOWS / "seed", *specs, "--report-dir", tmp_path, "--max-examples", "10",
        "--baseline", baseline, "--run-id", "again",
    )  # fmt: skip
    parts = json.loads((tmp_path / "again" / "results.json").read_text())["parts"]
    status = {p["name"]: p["status"] for p in parts}
    assert status["lint"] == status["consumer"] == status["suppressions"] == "passed"
    assert second.exit_code == 1  # the dead-air budget is not a finding one can suppress
