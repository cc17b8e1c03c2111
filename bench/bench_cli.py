"""CLI start-up: `ivr-harness --version` and `--help` beside a bare `python -c pass`.

Each command runs 15 times, interleaved with the baseline so machine noise hits both
alike; the medians are compared. Target: within 0.5 s of the bare interpreter.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import main

RUNS = 15
SCRIPT = Path(sys.executable).with_name("ivr-harness")


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


async def run() -> dict[str, Any]:
    bare: list[float] = []
    timed: dict[str, list[float]] = {"--version": [], "--help": []}
    for _ in range(RUNS):
        bare.append(_seconds([sys.executable, "-c", "pass"]))
        for flag, samples in timed.items():
            samples.append(_seconds([str(SCRIPT), flag]))
    base = statistics.median(bare)
    results: dict[str, Any] = {}
    for flag, samples in timed.items():
        median = statistics.median(samples)
        results[f"cli_start {flag}"] = {
            "median_s": median,
            "python_pass_median_s": base,
            "over_bare_s": median - base,
            "ratio": median / base,
            "target": "within 0.5 s of python -c pass",
            "met": median - base <= 0.5,
        }
    return results


if __name__ == "__main__":
    main(__doc__, run, "bench/results-cli.json")
