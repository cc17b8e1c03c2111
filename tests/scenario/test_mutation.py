"""`ivr-harness mutate`: mutants from the guide's traps, judged by lint and scenarios."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from harness.flow.loader import load_flow_set
from harness.flow.mutants import TRAPS, Mutant, mutants, sample
from harness.scenario.model import load_scenario
from harness.scenario.mutation import prepare, run_mutation
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
