"""A real defect still fails beside two busy CPU hogs: load makes runs inconclusive, never green.

The defects are the ones `make soak DEFECT=...` plants (bench/soak.py): the CRM
lookup's timeout raised to 12 s, and the error router's timeout branch removed
so status 0 falls through to success. Each must fail the suite for real (not
inconclusive) in the scenarios that exist to catch it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from harness.scenario.model import load_scenarios
from harness.scenario.runner import load_flow_sets, run_suite

ROOT = Path(__file__).resolve().parents[2]

# defect -> the runs that must fail for real
CATCHERS = {
    "timeout-12s": {"dns-stall[hardened]", "latency-over-timeout[hardened]",
                    "tcp-black-hole[hardened]"},
    "no-timeout-branch": {"connection-refused[hardened]", "dns-stall[hardened]",
                          "latency-over-timeout[hardened]", "tcp-black-hole[hardened]"},
}  # fmt: skip


def _soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", ROOT / "bench" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hogs() -> Iterator[None]:
    spawned = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for hog in spawned:
            hog.kill()
            hog.wait()


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("defect", sorted(CATCHERS))
def test_a_planted_defect_fails_beside_two_cpu_hogs(
    defect: str, hogs: None, tmp_path: Path
) -> None:
    flows = _soak().plant(defect, tmp_path)
    scenarios = load_scenarios([ROOT / "scenarios"])
    suite = asyncio.run(run_suite(scenarios, load_flow_sets([flows])))
    runs = {run.id: run for run in suite.runs}
    assert suite.verdict == "fail"
    for run_id in sorted(CATCHERS[defect]):
        run = runs[run_id]
        real = [c.title for c in run.failures() if not c.inconclusive]
        assert run.verdict == "fail" and real, f"{run_id}: {run.verdict} {run.failures()}"
