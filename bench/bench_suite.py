"""Suite wall time beside its longest scenario, and load callers per second.

* suite: the bundled catalogue against both flow sets, concurrently; wall time as a
  ratio to the longest single run in the same suite. Target: at most 1.5.
* load: 400 callers through the hardened flows with no fault, 10 at once, as fast as
  they arrive; answered calls per second of wall time on this machine, with no
  fallback (at 50 at once the harness itself saturates the two cores: integration
  steps start timing out, which is a measurement of the machine, not of the flows).

Run: .venv/bin/python bench/bench_suite.py --out bench/results-suite.json
"""

from __future__ import annotations

import dataclasses
from typing import Any

import _common  # bench/ is on sys.path: the scripts' own folder

from harness.bundled import CONTRACTS, SCENARIOS
from harness.scenario.load import load_stats
from harness.scenario.model import Callers, load_scenario, load_scenarios
from harness.scenario.runner import load_flow_sets, run_suite

FLOWS = CONTRACTS / "flows"


async def suite() -> dict[str, Any]:
    result = await run_suite(
        load_scenarios([SCENARIOS]),
        load_flow_sets([FLOWS / "hardened", FLOWS / "seed"]),
    )
    longest = max(result.runs, key=lambda r: r.wall_ms)
    ratio = result.wall_ms / longest.wall_ms
    return {
        "runs": len(result.runs),
        "verdict": result.verdict,
        "wall_ms": result.wall_ms,
        "sum_of_runs_ms": sum(r.wall_ms for r in result.runs),
        "longest_run": longest.id,
        "longest_run_ms": longest.wall_ms,
        "ratio": ratio,
        "target": "ratio <= 1.5",
        "met": ratio <= 1.5 and result.verdict == "pass",
    }


async def load(callers: int = 400) -> dict[str, Any]:
    base = load_scenario(SCENARIOS / "happy-path.yaml")
    scenario = dataclasses.replace(
        base,
        name="load-baseline",
        callers=Callers(count=callers, concurrency=10),
        expect=({"outcome": "transfer:agent-queue"},),
        known_defects={},
    )
    result = await run_suite([scenario], load_flow_sets([FLOWS / "hardened"]))
    run = result.runs[0]
    stats = load_stats(run.calls, run.wall_ms / 1000)
    return {
        **stats.to_json(),
        "wall_ms": run.wall_ms,
        "verdict": run.verdict,
        "target": "report; no fallback (2 cores)",
        "met": run.verdict == "pass" and stats.fallback == 0,
    }


async def run() -> dict[str, Any]:
    return {"suite_wall_time": await suite(), "load_callers_per_second": await load()}


if __name__ == "__main__":
    _common.main(__doc__, run, "bench/results-suite.json")
