"""`ivr-harness load`: its arrivals, its report, and its one-line refusals."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.scenario.loadplan import LoadPlan, arrival_times
from tests.fixtures.cli_run import ROOT, assert_one_line_error, run_cli

HAPPY = "scenarios/happy-path.yaml"


def test_seeded_poisson_arrivals_repeat_and_shards_partition_them() -> None:
    plan = LoadPlan(arrival="poisson", rate=100, duration_s=10, slots=1, seed=5)
    times = arrival_times(plan)
    assert times == arrival_times(plan)
    assert 850 < len(times) < 1150  # about rate x duration
    assert times != arrival_times(LoadPlan(arrival="poisson", rate=100, duration_s=10, seed=6))
    shards = [times[k::3] for k in range(3)]
    assert sorted(t for shard in shards for t in shard) == times


def test_a_ramp_starts_slow_and_reaches_the_rate() -> None:
    times = arrival_times(LoadPlan(rate=100, ramp_s=10, duration_s=20, slots=1))
    first, last = [t for t in times if t < 5], [t for t in times if t >= 15]
    assert len(first) == pytest.approx(125, abs=2)  # the area under the ramp's first half
    assert len(last) == pytest.approx(500, abs=2)
    assert times == sorted(times)


def test_load_json_keeps_its_fields_and_adds_the_harness_and_occupancy(tmp_path: Path) -> None:
    result = run_cli(
        "load", HAPPY, "--callers", "40", "--rate", "40", "--arrival", "poisson",
        "--slots", "5", "--json", "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    for field in ("calls", "dropped", "fallback", "fallback_rate", "outcomes", "dead_air_ms",
                  "integration_step_p95_ms", "calls_per_second"):  # fmt: skip
        assert field in body
    assert body["calls"] == 40
    assert set(body["dead_air_ms"]) == {"p50", "p95", "p99"}
    assert body["integration_step_ms"]["http-customer-lookup"]["count"] == 40
    assert 0 < body["slots_busy"]["peak"] <= 5
    assert body["queue_wait_ms"]["count"] == 40
    assert body["harness"]["loop_lag_ms"]["count"] > 0
    shard = body["shards"][0]["harness"]
    assert shard["gc_pause_ms"]["collections"] > 0  # young collections ran, each measured
    assert body["harness"]["gc_pause_ms_max"] == shard["gc_pause_ms"]["max"] > 0
    assert body["scheduler"] == "in-process"
    saved = json.loads(next(tmp_path.glob("*/load.json")).read_text())
    assert saved["verdict"] == body["verdict"] == "pass"
    assert next(tmp_path.glob("*/report.html")).read_text().count("<polyline") == 2


def test_a_scheduler_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:  # bound, never listening: nothing answers there
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
        result = run_cli("load", HAPPY, "--scheduler", address, "--report-dir", str(tmp_path))
    assert_one_line_error(result, address, "did not answer")


def test_a_missing_extra_names_it(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "distributed"
    shadow.mkdir(parents=True)
    # stands for an environment without the extra: the import fails as it would
    (shadow / "__init__.py").write_text("raise ImportError('No module named distributed')\n")
    env = {**os.environ, "PYTHONPATH": str(shadow.parent), "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "load", HAPPY, "--scheduler", "tcp://127.0.0.1:1"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )  # fmt: skip
    assert_one_line_error(result, "ivr-harness[distributed]")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--arrival", "poisson"], "--rate"),
        (["--duration", "5"], "--duration"),
        (["--arrival", "bursty"], "bursty"),
        (["--rate", "nan"], "--rate"),
        (["--rate", "inf"], "--rate"),
        (["--rate", "0"], "--rate"),
        (["--ramp", "nan", "--rate", "5"], "--ramp"),
        (["--duration", "nan", "--rate", "5"], "--duration"),
        (["--slots", "0"], "--slots"),
        (["--callers", "0"], "--callers"),
        (["--patience-ms", "-1"], "--patience-ms"),
        (["--processes", "0"], "--processes"),
    ],
)
def test_bad_plans_are_one_line(args: list[str], needle: str, tmp_path: Path) -> None:
    result = run_cli("load", HAPPY, *args, "--report-dir", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert needle in result.stderr


def test_shards_in_local_processes_add_up(tmp_path: Path) -> None:
    result = run_cli(
        "load", HAPPY, "--callers", "60", "--rate", "60", "--slots", "10", "--processes", "2",
        "--json", "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert [s["shard"] for s in body["shards"]] == [0, 1]
    assert body["calls"] == sum(s["calls"] for s in body["shards"]) == 60
    assert body["integration_step_ms"]["http-customer-lookup"]["count"] == 60
    assert body["lost_shards"] == []
    assert body["slots_busy"]["peak"] <= 10  # the shards share the run's slots out
    assert "shard 1 of 2 ended" in result.stderr and "shard 2 of 2 ended" in result.stderr


def test_counted_fault_triggers_are_shared_out_between_shards() -> None:
    import dataclasses

    from harness.bundled import SCENARIOS
    from harness.scenario.loadrun import shard_scenario
    from harness.scenario.model import load_scenario

    base = load_scenario(SCENARIOS / "happy-path.yaml")
    fault = dataclasses.replace(
        load_scenario(SCENARIOS / "503-503-200.yaml").faults[0], after_calls=10, until_calls=25
    )
    sharded = shard_scenario(dataclasses.replace(base, faults=(fault,)), 4)
    assert (sharded.faults[0].after_calls, sharded.faults[0].until_calls) == (3, 7)
    assert shard_scenario(base, 1) is base


def test_the_guides_trap_side_by_side_in_one_report(tmp_path: Path) -> None:
    # The same DNS stall and arrivals through the 30 s default and through 5 s + a breaker.
    result = run_cli(
        "load", "scenarios/slot-exhaustion-load.yaml", "--flows", "contracts/flows/seed",
        "--flows", "contracts/flows/hardened", "--json", "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    seed, hardened = json.loads(result.stdout)["flow_sets"]
    assert (seed["flow_set"], hardened["flow_set"]) == ("seed", "hardened")
    # the seed fails exactly as its known defects say; the hardened flows hold
    assert seed["verdict"] == "expected_failure" and hardened["verdict"] == "pass"
    assert seed["dropped"] > 0 and hardened["dropped"] == 0
    assert seed["dead_air_ms"]["p95"] > 10_000 > hardened["dead_air_ms"]["p95"]
    page = next(tmp_path.glob("*/report.html")).read_text()
    assert page.count('class="series s0"') == 2 and page.count('class="series s1"') == 2
    assert "seed" in page and "hardened" in page and "dropped (no slot in time)" in page
    saved = json.loads(next(tmp_path.glob("*/load.json")).read_text())
    assert [e["dropped"] for e in saved["flow_sets"]] == [seed["dropped"], 0]


def test_a_load_run_reports_its_progress_until_every_caller_has_ended() -> None:
    import asyncio
    import dataclasses
    import io

    from rich.console import Console

    from harness.bundled import CONTRACTS, SCENARIOS
    from harness.report.progress import LoadProgressLine
    from harness.scenario.loadrun import LoadProgress, run_load
    from harness.scenario.model import load_scenario
    from harness.scenario.runner import load_flow_sets

    scenario = dataclasses.replace(load_scenario(SCENARIOS / "happy-path.yaml"), audio="instant")
    flow_set = load_flow_sets([CONTRACTS / "flows" / "hardened"])[0]
    seen: list[LoadProgress] = []
    out = io.StringIO()
    line = LoadProgressLine(console=Console(file=out, width=200), every_s=0)

    def record(progress: LoadProgress) -> None:
        seen.append(progress)
        line.update(progress)

    plan = LoadPlan(rate=20, max_calls=30, slots=5)
    asyncio.run(run_load(scenario, flow_set, plan, run_id="progress", on_progress=record))
    assert len(seen) >= 2  # at least one tick while callers arrive (1.5 s), and the last word
    assert all(p.arrivals == 30 for p in seen)
    assert [p.ended for p in seen] == sorted(p.ended for p in seen)
    assert seen[-1].arrived == seen[-1].ended == 30 and seen[-1].busy_slots == 0
    assert "30/30 callers arrived, 30 ended (0 dropped)" in out.getvalue()


def test_a_load_shard_keeps_only_the_newest_tickets(monkeypatch: pytest.MonkeyPatch) -> None:
    # A shard may run for hours; its reference ticket system must not grow with every call.
    import asyncio
    import contextlib
    import dataclasses
    from collections.abc import AsyncIterator
    from typing import Any

    from harness.bundled import CONTRACTS, SCENARIOS
    from harness.scenario import loadrun
    from harness.scenario.model import load_scenario
    from harness.scenario.runner import load_flow_sets

    monkeypatch.setattr(loadrun, "RETAINED_RECORDS", 5)
    kept: dict[str, int] = {}
    opened = loadrun.environment

    @contextlib.asynccontextmanager
    async def watched(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with opened(*args, **kwargs) as env:
            yield env
            state = env.backends.state
            kept.update(made=int(state.next_id("TCK")[4:]) - 1, held=len(state.tickets))

    monkeypatch.setattr(loadrun, "environment", watched)
    scenario = dataclasses.replace(load_scenario(SCENARIOS / "happy-path.yaml"), audio="instant")
    flow_set = load_flow_sets([CONTRACTS / "flows" / "hardened"])[0]
    plan = LoadPlan(rate=20, max_calls=30, slots=5)
    run = asyncio.run(loadrun.run_load(scenario, flow_set, plan, run_id="kept", keep_calls=False))
    assert run.counts.calls == 30 and run.counts.dropped == 0, run.counts
    assert kept["made"] > 5 and kept["held"] == 5, kept
