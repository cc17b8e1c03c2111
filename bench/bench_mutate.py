"""`ivr-harness mutate` on the bundled demo: its wall time beside the suite's own.

* baseline: the bundled scenarios against the bundled hardened flows, one concurrent
  suite (what the nightly job runs on that flow set), measured first in the same process.
* mutate: every mutant of the same flows (lint, diff and the same scenarios on each, in
  one concurrent suite, as `ivr-harness mutate contracts/flows/hardened` does), its
  score and the count of each status. Reported: wall time, runs per second, wall time
  as a ratio to the baseline suite's, to the baseline run once per mutant (what the
  mutants would cost one after another) and to mutate's own longest run (as
  bench_suite.py judges the suite). Target: the score at least 95 % with no survivor,
  and the wall time at most 1.5x the longest run.

The longest run is a mutant's, not a scenario's: a mutant that sends every ticket to
the 120 s hold keeps each call of a real-time scenario (time_scale 1) holding for two
minutes (happy-path: three calls, about 6 minutes), and runs found inconclusive are
rerun only after the first round. So this is the longest benchmark: about 9-10 minutes
on this 2-core machine (38 mutants x 25 scenarios, 950 runs), and `make bench` takes
that much longer. It informs; it does not gate.

Run: .venv/bin/python bench/bench_mutate.py --out bench/results-mutate.json
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common  # bench/ is on sys.path: the scripts' own folder

from harness.bundled import CONTRACTS, SCENARIOS
from harness.scenario.model import load_scenarios
from harness.scenario.mutation import prepare, run_mutation
from harness.scenario.runner import RunResult, load_flow_sets, run_suite

HARDENED = CONTRACTS / "flows" / "hardened"


async def mutate() -> dict[str, Any]:
    scenarios = load_scenarios([SCENARIOS])
    suite = await run_suite(scenarios, load_flow_sets([HARDENED]))
    print(
        f"bench_mutate: suite {suite.wall_ms / 1000:.1f} s; every mutant next (~10 min)",
        file=sys.stderr,
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-mutants-") as tmp:
        started = time.monotonic()
        prepared = prepare(HARDENED, Path(tmp))
        prepare_ms = (time.monotonic() - started) * 1000
        finished: list[RunResult] = []
        report = await run_mutation(prepared, scenarios, on_run=finished.append)
    wall_ms = prepare_ms + report.wall_ms
    counts = report.to_json()["counts"]
    one_after_another = suite.wall_ms * len(prepared.loaded)
    longest = max(finished, key=lambda r: r.wall_ms)
    return {
        "mutants": len(report.results),
        **counts,
        "score": report.score(),
        "survivors": [r.mutant.change() for r in report.results if r.status == "survived"],
        "runs": len(finished),
        "rerun": sum(bool(r.reruns) for r in finished),
        "wall_ms": wall_ms,
        "prepare_ms": prepare_ms,
        "runs_per_second": len(finished) / (wall_ms / 1000),
        "longest_run": longest.id,
        "longest_run_ms": longest.wall_ms,
        "ratio_to_longest_run": wall_ms / longest.wall_ms,
        "suite_runs": len(suite.runs),
        "suite_verdict": suite.verdict,
        "suite_wall_ms": suite.wall_ms,
        "ratio_to_suite": wall_ms / suite.wall_ms,
        "ratio_to_suite_per_mutant": wall_ms / one_after_another,
        "target": "score >= 0.95, no survivor, ratio_to_longest_run <= 1.5",
        "met": report.score() >= 0.95
        and counts["survived"] == 0
        and wall_ms <= 1.5 * longest.wall_ms
        and suite.verdict == "pass",
    }


async def run() -> dict[str, Any]:
    return {"mutate_bundled_hardened": await mutate()}


if __name__ == "__main__":
    _common.main(__doc__, run, "bench/results-mutate.json")
