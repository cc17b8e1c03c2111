"""`ivr-harness mutate`: mutants from the guide's traps, judged by lint and scenarios.

In-process tests drive the mutant scheduler with a scripted `run_scenario` (the
`runner` seam) to pin down bail, ranks and the calm second look exactly; the tests
at the end run real scenarios over loopback for coverage, timeouts and incremental.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.errors import ConfigError
from harness.flow.loader import load_flow_set
from harness.flow.mutants import TRAPS, Mutant, changed_steps, mutants, sample
from harness.report.mutation import print_mutation, write_mutation_reports
from harness.scenario.expectations import Check
from harness.scenario.incremental import Incremental
from harness.scenario.model import Scenario, load_scenario
from harness.scenario.mutation import judge, prepare, run_mutation
from harness.scenario.original import Original, OriginalRun
from harness.scenario.runner import FlowSetRef, RunResult
from harness.scenario.trials import Trial, judge_run, time_limit_s
from harness.scenario.verdict import run_verdict
from tests.fixtures.cli_run import ROOT, run_cli

HARDENED = ROOT / "contracts" / "flows" / "hardened"
SCENARIOS = ROOT / "scenarios"


def _documents() -> dict[str, Any]:
    return {p.name: json.loads(p.read_text()) for p in sorted(HARDENED.glob("*.json"))}


def test_each_mutant_changes_one_step_of_one_flow_and_says_so() -> None:
    original = _documents()
    found = list(mutants(load_flow_set(HARDENED), original))
    assert {m.trap for m in found} == set(TRAPS)  # the hardened set has a place for each
    assert len({m.id for m in found}) == len(found)
    for mutant in found:
        changed = [name for name in original if mutant.documents[name] != original[name]]
        assert len(changed) == 1, mutant.id
        assert mutant.step_id in mutant.change() and "->" in mutant.change()
        # coverage reads the one step the edit touched (a router edit: the router)
        touched = changed_steps(original, mutant.documents)
        assert touched is not None and len(touched) == 1, mutant.id
        assert next(iter(touched))[0] == mutant.flow_id
    swapped = next(m for m in found if m.id == "m031-router-branches-swapped")
    assert changed_steps(original, swapped.documents) == {("ticket-submit", "ticket-router")}
    # the same seed draws the same mutants
    assert sample(found, 5, seed=7) == sample(found, 5, seed=7) != sample(found, 5, seed=8)


def test_a_change_outside_the_steps_covers_every_scenario() -> None:
    original = _documents()
    renamed = copy.deepcopy(original)
    renamed["ticket-submit.json"]["variables"]["case_number"] = "x"  # a flow-level field
    assert changed_steps(original, renamed) is None
    added = copy.deepcopy(original)
    added["ticket-submit.json"]["steps"].append({"id": "extra", "type": "Hangup"})
    assert changed_steps(original, added) is None
    assert changed_steps(original, copy.deepcopy(original)) == frozenset()


def _check(title: str, passed: bool, **extra: Any) -> Check:
    return Check(title=title, passed=passed, expected="x", actual="y", **extra)


def _run(scenario: Scenario, flow_set: str, *checks: Check, wall_ms: float = 100) -> RunResult:
    verdict, marked = run_verdict(scenario.known_defects, flow_set, checks)
    return RunResult(
        scenario=scenario, flow_set=flow_set, verdict=verdict, checks=marked, wall_ms=wall_ms
    )


def test_a_check_the_original_already_fails_kills_nothing() -> None:
    storm = Scenario(name="storm", path=None, known_defects={"orig": ("breaker opens", "gone")})
    late = _check("no silence past 8 s", False, inconclusive=True, lag_ms=2400.0)
    original = OriginalRun.of(
        _run(
            storm,
            "orig",
            _check("caller reaches an agent", True),
            _check("case number heard", False),  # red on the original
            late,  # inconclusive on the original
            _check("breaker opens", False),  # a known defect the original shows
            _check("gone", True),  # a known defect the original no longer shows
        )
    )
    assert original.held == {"caller reaches an agent"}
    assert original.known_failed == {"breaker opens"}
    assert dict(original.already) == {
        "case number heard": "fails: y",
        "no silence past 8 s": "inconclusive: y",
        "gone": "a known defect the original does not show",
    }
    mutant = dataclasses.replace(storm, known_defects={"m1": storm.known_defects["orig"]})
    # Everything the original already fails fails on the mutant too: none of it kills.
    red_again = _run(
        mutant,
        "m1",
        _check("caller reaches an agent", True),
        _check("case number heard", False),
        _check("no silence past 8 s", False),
        _check("breaker opens", False),
        _check("gone", False),
    )
    assert judge_run(red_again, original) == ([], [])
    # A check that held there and fails here kills; so does a known defect gone missing.
    broken = _run(
        mutant,
        "m1",
        _check("caller reaches an agent", False),
        _check("breaker opens", True),
        _check("case number heard", True),
    )
    assert judge_run(broken, original) == (
        ["caller reaches an agent", "known defect no longer found: breaker opens"],
        [],
    )
    unclear = _run(
        mutant,
        "m1",
        _check("caller reaches an agent", False, inconclusive=True),
        _check("breaker opens", False),
    )
    assert judge_run(unclear, original) == ([], ["caller reaches an agent (lag 0 ms)"])


def test_statuses_scores_and_reports(tmp_path: Path) -> None:
    prepared = prepare(HARDENED, tmp_path / "mutants", size=5, seed=0, lint=False)
    killed, timed_out, unclear, survived, uncovered = prepared.loaded
    trials = {
        killed: Trial(killed_by=("storm: the caller reaches an agent",), covering=3, ran=1),
        timed_out: Trial(
            killed_by=("happy-path: timeout, stopped after 6.3 s",),
            timed_out=True,
            covering=3,
            ran=2,
        ),
        unclear: Trial(unclear=("storm: no silence past 8 s (lag 2400 ms)",), covering=3, ran=3),
        survived: Trial(covering=3, ran=3),
        uncovered: Trial(),
    }
    green = Original(
        flow_set="hardened",
        runs={"storm": OriginalRun(scenario="storm", verdict="fail", wall_ms=10.0,
                                   already=(("case number heard", "fails: y"),))},
    )  # fmt: skip
    report = judge(prepared, trials, scenarios=1, original=green)
    status = {r.mutant.id: r for r in report.results}
    assert [status[m].status for m in (killed, timed_out, unclear, survived)] == [
        "killed", "timeout", "inconclusive", "survived",
    ]  # fmt: skip
    # a timeout is a kill; inconclusive is left out of the score
    assert report.score() == pytest.approx(2 / 4)
    assert status[uncovered].suggestion.startswith("a scenario whose calls reach")
    document = report.to_json()
    assert document["counts"]["timeout"] == 1 and document["counts"]["inconclusive"] == 1
    assert document["original"]["red"] == ["storm"]
    assert document["original"]["already_failing"] == [
        {"scenario": "storm", "check": "case number heard", "why": "fails: y"}
    ]

    folder = write_mutation_reports(report, tmp_path / "reports", "run")
    junit = (folder / "junit.xml").read_text()
    assert junit.count("SurvivingMutant") == 2 and "OriginalFails" in junit
    assert "the machine was overloaded" in junit
    console = Console(record=True, width=300)
    print_mutation(report, console)
    shown = console.export_text()
    # listed once, loudly
    assert shown.count("THE ORIGINAL ALREADY FAILS THIS") == 1 and "case number heard" in shown
    assert "TIMEOUT" in shown and "INCONCLUSIVE" in shown and "1 timeout" in shown


class Script:
    """A scripted `run_scenario`: per (flow set, scenario), each time it runs, a delay and
    the checks it ends with (default: at once, one check that holds)."""

    def __init__(self, plan: dict[tuple[str, str], list[tuple[float, list[Check]]]]) -> None:
        self.plan = plan
        self.finished: list[tuple[str, str]] = []
        self.cancelled: list[tuple[str, str]] = []
        self.running = 0
        self.most = 0

    async def __call__(self, scenario: Scenario, flow_set: FlowSetRef, **_: Any) -> RunResult:
        key = (flow_set.name, scenario.name)
        queue = self.plan.get(key, [])
        delay, checks = queue.pop(0) if queue else (0.0, [_check("held", True)])
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self.cancelled.append(key)
            raise
        finally:
            self.running -= 1
        self.finished.append(key)
        return _run(scenario, flow_set.name, *checks, wall_ms=delay * 1000)


def _green(names: Sequence[str], prepared_root: Path) -> Original:
    """An original on which every scenario held `held` and `A`, `B` and visited every step."""
    every = frozenset(
        (flow.id, step.id) for flow in load_flow_set(prepared_root) for step in flow.steps
    )
    return Original(
        flow_set="hardened",
        runs={
            n: OriginalRun(
                scenario=n, verdict="pass", wall_ms=100.0, visited=every,
                held=frozenset({"held", "A", "B"}),
            )
            for n in names
        },
    )  # fmt: skip


def _mutate(prepared: Any, scenarios: list[Scenario], script: Script, **options: Any) -> Any:
    names = [s.name for s in scenarios]
    return asyncio.run(
        run_mutation(
            prepared,
            scenarios,
            original=_green(names, HARDENED),
            toxiproxy_url="http://127.0.0.1:9",  # the script opens nothing
            runner=script,
            **options,
        )
    )


@pytest.mark.parametrize("bail", [True, False])
def test_the_first_kill_in_rank_order_stops_a_mutants_later_runs(
    tmp_path: Path, bail: bool
) -> None:
    prepared = prepare(HARDENED, tmp_path, size=1, seed=3, lint=False)
    (mutant,) = prepared.loaded
    s0, s1, s2 = (Scenario(name=f"s{i}", path=None) for i in range(3))  # ranked s0, s1, s2
    script = Script(
        {
            (mutant, "s0"): [(0.4, [_check("A", False)])],  # ranked first, kills last
            (mutant, "s1"): [(0.0, [_check("B", False)])],  # kills first
            (mutant, "s2"): [(3.0 if bail else 0.1, [_check("held", True)])],
        }
    )
    started = time.monotonic()
    report = _mutate(prepared, [s0, s1, s2], script, bail=bail)
    (result,) = report.results
    assert result.status == "killed" and result.covering == 3
    if bail:
        # the earliest-ranked kill is the one named, whichever ended first; s2 was stopped
        assert result.killed_by == ("s0: A",)
        assert script.cancelled == [(mutant, "s2")] and result.runs == 2
        assert time.monotonic() - started < 2.5
    else:
        assert result.killed_by == ("s0: A", "s1: B")
        assert sorted(script.finished) == [(mutant, "s0"), (mutant, "s1"), (mutant, "s2")]


def test_a_lint_kill_runs_nothing_unless_no_bail(tmp_path: Path) -> None:
    prepared = prepare(HARDENED, tmp_path, ids=["m001-timeout-removed"])
    (result,) = _mutate(prepared, [Scenario(name="s0", path=None)], Script({})).results
    assert result.status == "killed" and result.runs == 0 and result.covering == 1
    script = Script({})
    (again,) = _mutate(prepared, [Scenario(name="s0", path=None)], script, bail=False).results
    assert again.runs == 1 and script.finished and again.killed_by[0].startswith("lint IVR001")


def test_an_unclear_mutant_gets_a_calm_second_look_at_its_unclear_runs_only(
    tmp_path: Path,
) -> None:
    prepared = prepare(HARDENED, tmp_path, size=2, seed=0, lint=False)
    unclear_then_killed, clear = prepared.loaded
    storm, calm = Scenario(name="storm", path=None), Scenario(name="calm", path=None)
    late = _check("A", False, inconclusive=True, lag_ms=900.0)
    script = Script(
        {
            (unclear_then_killed, "storm"): [(0.0, [late]), (0.0, [_check("A", False)])],
            (unclear_then_killed, "calm"): [(0.0, [_check("held", True)])],
        }
    )
    report = _mutate(prepared, [storm, calm], script)
    status = {r.mutant.id: r for r in report.results}
    assert status[unclear_then_killed].status == "killed"
    assert status[unclear_then_killed].killed_by == ("storm: A",)
    assert status[clear].status == "survived"
    # only the unclear scenario, on only that mutant, ran again
    assert script.finished.count((unclear_then_killed, "storm")) == 2
    assert script.finished.count((unclear_then_killed, "calm")) == 1
    assert script.finished.count((clear, "storm")) == 1


def test_selection_by_flow_trap_and_id_names_what_it_does_not_know(tmp_path: Path) -> None:
    chosen = prepare(HARDENED, tmp_path / "a", flows=["ticket-submit"], traps=["timeout-raised"])
    assert list(chosen.loaded) == ["m027-timeout-raised"]  # ids are stable under selection
    with pytest.raises(ConfigError, match=r"--trap router-swapped.*did you mean"):
        prepare(HARDENED, tmp_path / "b", traps=["router-swapped"])
    with pytest.raises(ConfigError, match="--mutant m999"):
        prepare(HARDENED, tmp_path / "c", ids=["m999"])
    with pytest.raises(ConfigError, match="no mutant matches"):
        prepare(HARDENED, tmp_path / "d", flows=["ticket-submit"], traps=["breaker-dropped"])


# Over loopback: real scenarios on real mutants.


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
    happy = load_scenario(SCENARIOS / "happy-path.yaml")
    report = asyncio.run(run_mutation(prepared, [happy]))
    (invalid,) = [r for r in report.results if r.mutant.id == "m999-broken"]
    assert invalid.status == "invalid" and "customer-integration" in invalid.error
    assert report.score() == report.score([r for r in report.results if r is not invalid])
    assert report.to_json()["counts"]["invalid"] == 1


def test_a_mutant_runs_only_the_scenarios_that_reached_its_step(tmp_path: Path) -> None:
    # A 5xx of the ticket POST sent to success: happy-path creates tickets, a 404 on the
    # lookup never reaches the ticket flow, so it cannot kill this mutant.
    prepared = prepare(HARDENED, tmp_path, ids=["m035-5xx-to-success"], lint=False)
    scenarios = [load_scenario(SCENARIOS / n) for n in ("happy-path.yaml", "not-found-404.yaml")]
    report = asyncio.run(run_mutation(prepared, scenarios))
    (result,) = report.results
    assert report.original is not None
    visited = report.original.runs["not-found-404"].visited
    assert ("ticket-submit", "ticket-router") not in visited
    # (inconclusive only if this machine is too loaded to tell: then happy-path ran twice)
    assert result.covering == 1 and result.status in ("survived", "inconclusive")
    assert result.runs == (1 if result.status == "survived" else 2)
    everything = asyncio.run(run_mutation(prepared, scenarios, coverage=False))
    assert everything.results[0].covering == 2 and everything.results[0].runs >= 2


def test_a_mutant_holding_callers_far_longer_is_stopped_and_killed_as_timeout(
    tmp_path: Path,
) -> None:
    # The ticket router's branches swapped: a created ticket sends the caller to the
    # 120 s hold for the callback that never comes.
    prepared = prepare(HARDENED, tmp_path, ids=["m031-router-branches-swapped"], lint=False)
    happy = load_scenario(SCENARIOS / "happy-path.yaml")
    started = time.monotonic()
    report = asyncio.run(run_mutation(prepared, [happy]))
    (result,) = report.results
    assert result.status == "timeout", result
    (killer,) = result.killed_by
    assert report.original is not None
    limit = time_limit_s(report.original.runs["happy-path"].wall_ms)
    match = re.fullmatch(
        r"happy-path: timeout, stopped after ([\d.]+) s .*limit ([\d.]+) s.*", killer
    )
    assert match and float(match.group(2)) == pytest.approx(limit, abs=0.05)
    # never before its limit; stopped long before the 120 s hold would have ended
    assert float(match.group(1)) >= round(limit, 1)
    assert time.monotonic() - started < report.original.wall_ms / 1000 + limit + 20


def test_an_incremental_run_reuses_what_nothing_changed_under(tmp_path: Path) -> None:
    file = tmp_path / "mutation.json"
    first = Incremental.load(file)
    ids = ["m035-5xx-to-success"]
    prepared = prepare(HARDENED, tmp_path / "a", ids=ids, incremental=first)
    happy = load_scenario(SCENARIOS / "happy-path.yaml")
    asyncio.run(run_mutation(prepared, [happy], incremental=first))
    file.write_text(json.dumps(first.to_json()))

    # Nothing changed: the original's run and the mutant's verdict come from the file,
    # and so do its lint and diff findings.
    again = Incremental.load(file)
    kept = prepare(HARDENED, tmp_path / "b", ids=ids, incremental=again)
    assert kept.loaded[ids[0]][2] == prepared.loaded[ids[0]][2] == ()  # the lint is blind here
    assert kept.changed == prepared.changed == {ids[0]: True}
    assert again.static(next(iter(first.to_json()["static"]))) is not None
    untouched = Script({})
    report = asyncio.run(run_mutation(prepared, [happy], incremental=again, runner=untouched))
    assert report.original is not None and report.original.reused
    assert report.results[0].reused and report.results[0].status == "survived"
    assert untouched.finished == [] and again.reused == 1

    # The scenario changed: the mutant runs again (its original too).
    changed = dataclasses.replace(happy, expect=(*happy.expect, {"alert": "not_fired"}))
    later = Incremental.load(file)
    report = asyncio.run(run_mutation(prepared, [changed], incremental=later))
    assert report.original is not None and not report.original.reused
    assert not report.results[0].reused and later.reused == 0


def test_a_malformed_incremental_file_is_refused_naming_it(tmp_path: Path) -> None:
    file = tmp_path / "mutation.json"
    file.write_text('{"schema": "ivr-harness/mutation-incremental/v1"}')
    with pytest.raises(ConfigError, match=re.escape(str(file))):
        Incremental.load(file)
    file.write_text('{"schema": "something-else/v9", "harness": "0.0.1"}')
    assert Incremental.load(file).to_json()["mutants"] == {}  # another harness's: ignored


def test_a_weak_suite_scores_low_and_names_the_missing_faults(tmp_path: Path) -> None:
    result = run_cli(
        "mutate", str(HARDENED),
        "--scenarios", str(SCENARIOS / "happy-path.yaml"),
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
