"""`ivr-harness mutate`: mutants from the guide's traps, judged by lint and scenarios."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.flow.loader import load_flow_set
from harness.flow.mutants import TRAPS, Mutant, mutants, sample
from harness.report.mutation import print_mutation, write_mutation_reports
from harness.scenario.expectations import Check
from harness.scenario.model import Scenario, load_scenario
from harness.scenario.mutation import judge, prepare, run_mutation
from harness.scenario.runner import RunResult
from tests.fixtures.cli_run import ROOT, run_cli

HARDENED = ROOT / "contracts" / "flows" / "hardened"


def _documents() -> dict[str, object]:
    return {p.name: json.loads(p.read_text()) for p in sorted(HARDENED.glob("*.json"))}


def test_each_mutant_changes_one_field_of_one_flow_and_says_so() -> None:
    original = _documents()
    found = list(mutants(load_flow_set(HARDENED), original))
    assert {m.trap for m in found} == set(TRAPS)  # the hardened set has a place for each
    assert len({m.id for m in found}) == len(found)
    for mutant in found:
        changed = [name for name in original if mutant.documents[name] != original[name]]
        assert len(changed) == 1, mutant.id
        assert mutant.step_id in mutant.change() and "->" in mutant.change()
    # the same seed draws the same mutants
    assert sample(found, 5, seed=7) == sample(found, 5, seed=7) != sample(found, 5, seed=8)


def test_an_invalid_mutant_is_excluded_never_killed(tmp_path: Path) -> None:
    broken = {**_documents(), "customer-integration.json": {"id": "customer-integration"}}
    bad = Mutant(
        id="m999-broken",
        trap="custom",
        flow_id="customer-integration",
        step_id="-",
        field="steps",
        before="(all)",
        after="(none)",
        documents=broken,
    )
    prepared = prepare(HARDENED, tmp_path, size=1, seed=0, extra=[bad])
    happy = load_scenario(ROOT / "scenarios" / "happy-path.yaml")
    report = asyncio.run(run_mutation(prepared, [happy]))
    (invalid,) = [r for r in report.results if r.mutant.id == "m999-broken"]
    assert invalid.status == "invalid" and "customer-integration" in invalid.error
    assert report.score() == report.score([r for r in report.results if r is not invalid])
    assert report.to_json()["counts"]["invalid"] == 1


def test_a_weak_suite_scores_low_and_names_the_missing_faults(tmp_path: Path) -> None:
    result = run_cli(
        "mutate", str(HARDENED),
        "--scenarios", str(ROOT / "scenarios" / "happy-path.yaml"),
        "--sample", "8", "--seed", "2", "--min-score", "95", "--no-lint",
        "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "below --min-score 95%" in result.stderr
    (folder,) = tmp_path.iterdir()
    document = json.loads((folder / "results.json").read_text())
    assert document["schema"] == "ivr-harness/mutation/v1" and document["score"] < 0.95
    survivors = [m for m in document["mutants"] if m["status"] == "survived"]
    assert survivors and all(m["suggestion"] for m in survivors)
    assert "SURVIVED" in result.stdout and "add:" in result.stdout
    junit = (folder / "junit.xml").read_text()
    assert junit.count("SurvivingMutant") == len(survivors)


def _run(scenario: Scenario, flow_set: str, verdict: str, *checks: Check) -> RunResult:
    return RunResult(scenario=scenario, flow_set=flow_set, verdict=verdict, checks=list(checks))


def test_a_check_missed_within_the_measured_lag_kills_nothing(tmp_path: Path) -> None:
    prepared = prepare(HARDENED, tmp_path / "mutants", size=3, seed=0, lint=False)
    unclear_only, real_and_unclear, cleared = prepared.loaded
    storm = Scenario(name="storm", path=None, known_defects={cleared: ("breaker opens",)})
    late = Check(
        title="no silence longer than 8000 ms", passed=False, expected="<= 8000 ms",
        actual="inconclusive: the machine was overloaded (lag 2400 ms)",
        inconclusive=True, lag_ms=2400.0,
    )  # fmt: skip
    wrong = Check(title="the caller reaches an agent", passed=False, expected="x", actual="y")
    opens = Check(title="breaker opens", passed=True, expected="x", actual="x")
    runs = {
        unclear_only: [_run(storm, unclear_only, "inconclusive", late)],
        real_and_unclear: [_run(storm, real_and_unclear, "fail", late, wrong)],
        cleared: [_run(storm, cleared, "unexpected_pass", opens)],
    }
    report = judge(prepared, runs, scenarios=1)
    status = {r.mutant.id: r for r in report.results}

    # Overload is neither a kill nor a survivor: reported, and left out of the score.
    assert status[unclear_only].status == "inconclusive"
    (unclear,) = status[unclear_only].inconclusive
    assert unclear == "storm: no silence longer than 8000 ms (lag 2400 ms)"
    assert status[real_and_unclear].killed_by == ("storm: the caller reaches an agent",)
    # A known defect the mutant no longer shows turns the suite red too.
    assert status[cleared].status == "killed"
    assert status[cleared].killed_by == ("storm: known defect no longer found: breaker opens",)
    assert report.score() == 1.0 and report.to_json()["counts"]["inconclusive"] == 1

    folder = write_mutation_reports(report, tmp_path / "reports", "run")
    junit = (folder / "junit.xml").read_text()
    assert "SurvivingMutant" not in junit and "the machine was overloaded" in junit
    console = Console(record=True, width=200)
    print_mutation(report, console)
    shown = console.export_text()
    assert "1 inconclusive" in shown and "INCONCLUSIVE" in shown and "SURVIVED" not in shown


def test_an_unclear_mutant_gets_a_calm_second_look_at_its_unclear_runs_only(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import harness.scenario.mutation as mutation

    prepared = prepare(HARDENED, tmp_path / "mutants", size=2, seed=0, lint=False)
    unclear_then_killed, clear = prepared.loaded
    storm, calm = Scenario(name="storm", path=None), Scenario(name="calm", path=None)
    late = Check(
        title="breaker opens", passed=False, expected="x", actual="inconclusive (lag 900 ms)",
        inconclusive=True, lag_ms=900.0,
    )  # fmt: skip
    missed = Check(title="breaker opens", passed=False, expected="x", actual="never opened")
    held = Check(title="caller reaches an agent", passed=True, expected="x", actual="x")
    calls: list[tuple[list[str], list[str], int]] = []

    async def suite(scenarios: Any, original: Any, loaded: Any, url: Any, parallel: int,
                    on_run: Any, on_call: Any) -> dict[str, list[RunResult]]:  # fmt: skip
        calls.append(([s.name for s in scenarios], list(loaded), parallel))
        if len(calls) == 1:  # the loaded first pass: the breaker check is swamped by lag
            return {
                unclear_then_killed: [
                    _run(storm, unclear_then_killed, "inconclusive", late),
                    _run(calm, unclear_then_killed, "pass", held),
                ],
                clear: [_run(storm, clear, "pass", held), _run(calm, clear, "pass", held)],
            }
        return {unclear_then_killed: [_run(storm, unclear_then_killed, "fail", missed)]}

    monkeypatch.setattr(mutation, "_suite", suite)
    report = asyncio.run(run_mutation(prepared, [storm, calm]))
    status = {r.mutant.id: r for r in report.results}
    # only the unclear scenario, on only that mutant, two runs at a time
    assert calls[1] == (["storm"], [unclear_then_killed], 2)
    assert status[unclear_then_killed].status == "killed"
    assert status[unclear_then_killed].killed_by == ("storm: breaker opens",)
    assert status[clear].status == "survived" and len(calls) == 2
