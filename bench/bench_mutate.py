"""`ivr-harness mutate contracts/flows/hardened`, fast and full, beside the suite's own time.

Each measurement runs the real CLI in a fresh process, as a user or CI runs it, with
the bundled scenarios, in one run of this script so the ratios share the machine:

* suite: the bundled scenarios on the hardened flows, one concurrent suite (what the
  nightly job runs on that flow set): the baseline.
* mutate: the default run. The scenarios run on the original first; each mutant then
  runs only the scenarios whose calls reached a step it changed, stops at its first
  kill (a lint kill needs no run), and a run lasting past max(2x the original's, +5 s)
  kills it as a timeout. `--incremental` writes its verdicts to a fresh file.
* incremental: the same command again with nothing changed: every verdict and the
  original's run come from the file.
* full: `--no-bail --no-coverage`, every scenario to the end on every mutant (950
  runs): what the fast run must agree with, mutant by mutant.

Targets (issue 22): the fast run gives the full run's verdicts in at most 90 s of wall
time on 2 cores; the mutant that sends created tickets to the 120 s hold
(`router-branches-swapped` on ticket-submit) is killed as a timeout; the incremental
run takes at most 10 s. The full run takes 3-4 minutes: this is still the longest
benchmark of `make bench`.

Run: .venv/bin/python bench/bench_mutate.py --out bench/results-mutate.json
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common  # bench/ is on sys.path: the scripts' own folder

from harness.bundled import CONTRACTS, SCENARIOS
from harness.scenario.model import load_scenarios
from harness.scenario.runner import load_flow_sets, run_suite

HARDENED = CONTRACTS / "flows" / "hardened"
HOLD_MUTANT = ("ticket-submit", "router-branches-swapped")  # successes sent to the hold


async def _mutate(folder: Path, name: str, *args: str) -> tuple[float, dict[str, Any]]:
    """Wall seconds of `ivr-harness mutate HARDENED ARGS` in a fresh process, and its
    results.json."""
    reports = folder / name
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "harness.cli", "mutate", str(HARDENED),
        "--scenarios", str(SCENARIOS), "--report-dir", str(reports), *args,
        cwd=folder, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"mutate {' '.join(args)}: exit {process.returncode}: {err.decode()}")
    (run,) = reports.iterdir()
    document: dict[str, Any] = json.loads((run / "results.json").read_text())
    return wall, document


def _verdicts(document: dict[str, Any]) -> dict[str, str]:
    return {m["id"]: m["status"] for m in document["mutants"]}


def _say(text: str) -> None:
    print(f"bench_mutate: {text}", file=sys.stderr, flush=True)


async def mutate() -> dict[str, dict[str, Any]]:
    suite = await run_suite(load_scenarios([SCENARIOS]), load_flow_sets([HARDENED]))
    _say(f"suite {suite.wall_ms / 1000:.1f} s; mutate, then again incremental, then full")
    with tempfile.TemporaryDirectory(prefix="bench-mutate-") as tmp:
        folder = Path(tmp)
        keep = f"--incremental={folder / 'mutation.json'}"
        fast_s, fast = await _mutate(folder, "fast", keep)
        _say(f"mutate {fast_s:.1f} s: {fast['counts']}")
        again_s, again = await _mutate(folder, "again", keep)
        _say(f"incremental {again_s:.1f} s; the full run next (3-4 min)")
        full_s, full = await _mutate(folder, "full", "--no-bail", "--no-coverage")
        _say(f"full {full_s:.1f} s: {full['counts']}")
    hold = [m for m in fast["mutants"] if (m["flow_id"], m["trap"]) == HOLD_MUTANT]
    hold_status = hold[0]["status"] if hold else "missing"
    same = _verdicts(fast) == _verdicts(full) == _verdicts(again)
    differ = sorted(k for k, v in _verdicts(fast).items() if _verdicts(full).get(k) != v)
    suite_s = suite.wall_ms / 1000
    return {
        "mutate_hardened": {
            "mutants": len(fast["mutants"]),
            **{f"fast_{status}": count for status, count in fast["counts"].items()},
            "score": fast["score"],
            "fast_wall_s": fast_s,
            "fast_runs": fast["runs"],
            "original_wall_s": fast["original"]["wall_ms"] / 1000,
            "hold_mutant": hold[0]["id"] if hold else "missing",
            "hold_mutant_status": hold_status,
            "hold_mutant_killed_by": hold[0]["killed_by"][:1] if hold else [],
            "full_wall_s": full_s,
            "full_runs": full["runs"],
            **{f"full_{status}": count for status, count in full["counts"].items()},
            "same_verdicts_as_full": same,
            "verdicts_differing": differ,
            "suite_wall_s": suite_s,
            "suite_verdict": suite.verdict,
            "ratio_fast_to_suite": fast_s / suite_s,
            "ratio_fast_to_full": fast_s / full_s,
            "target": "fast <= 90 s with the full run's verdicts, the hold mutant a timeout",
            "met": fast_s <= 90
            and same
            and hold_status == "timeout"
            and suite.verdict == "pass"
            and fast["counts"]["survived"] == 0,
        },
        "mutate_incremental": {
            "wall_s": again_s,
            "reused": again["reused"],
            "runs": again["runs"],
            "original_reused": again["original"]["reused"],
            "ratio_to_fast": again_s / fast_s,
            "target": "a second --incremental run with nothing changed <= 10 s, all reused",
            "met": again_s <= 10 and again["runs"] == 0 and again["original"]["reused"],
        },
    }


async def run() -> dict[str, Any]:
    return await mutate()


if __name__ == "__main__":
    _common.main(__doc__, run, "bench/results-mutate.json")
