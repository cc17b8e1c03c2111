"""The test suite's own mutation score: the share of code mutants of the executor, the
verdict and the contract check that the tests kill (mutmut).

The same standard `ivr-harness mutate` holds flows to, turned on the harness: mutmut
makes every mutant of `harness/executor/`, `harness/scenario/verdict.py` and
`harness/contract/` (about 8,600: an operator flipped, a constant or string changed, a
call's argument dropped), records which tests run each function, and runs a mutant
against those tests only, about 4 s a mutant on this 2-core machine (two at a time):
every mutant would take about five hours, so a seeded sample is run (`--sample`,
default 200) and the score is reported with its 95 % Wilson interval, as a whole and
per package; a mutant no test runs counts as a survivor.

mutmut works in a copy of the checkout (bench/code_mutants.py), configured there, so the
repository carries no mutmut state. Tests that run the CLI in a subprocess import the
copy's unmutated code and so kill nothing here; the in-process tests of the three
packages (tests/executor, tests/properties, tests/contract, the verdict's tests) are the
ones run. Target: report the score; it informs, it does not gate (about 20 minutes: 5
to generate the mutants and trace the tests once, then the sample).

Run: .venv/bin/python bench/bench_test_mutation.py --out bench/results-test-mutation.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import _common  # bench/ is on sys.path: the scripts' own folder
from code_mutants import copy_checkout

TARGETS = ("harness/executor/", "harness/scenario/verdict.py", "harness/contract/")
TESTS = [
    "tests/executor",
    "tests/properties",
    "tests/contract",
    "tests/scenario/test_verdict.py",
    "tests/scenario/test_lag.py",
    "tests/report/test_junit.py",
]
PACKAGES = {
    "harness.executor": "executor",
    "harness.scenario": "verdict",
    "harness.contract": "contract",
}
# Tests that run the CLI in a subprocess from a folder outside the copy: the subprocess
# imports the mutated code, whose trampolines look for mutmut's configuration in that
# folder and fail the run; they kill no mutant here anyway.
FOREIGN_CWD = ["tests/contract/test_gate_any_ivr.py", "tests/contract/test_never_a_traceback.py"]
COPIED = ["contracts", "scenarios", "docs", "conftest.py", "harness/_bundled"]
SAMPLE = 200
SEED = 0
KILLED = {"killed", "timeout", "segfault"}  # mutmut's names; a hang or crash is noticed too


def _toml_list(items: list[str]) -> str:
    return json.dumps(items)  # a JSON array of plain strings is a TOML array


def configure(checkout: Path) -> None:
    """mutmut's settings, written into the copy's pyproject.toml only."""
    files = sorted(p.relative_to(checkout).as_posix() for p in (checkout / "harness").rglob("*.py"))
    untouched = [f for f in files if not f.startswith(TARGETS) and "/_bundled/" not in f]
    section = (
        "\n[tool.mutmut]\n"
        'source_paths = ["harness"]\n'
        f"do_not_mutate = {_toml_list(untouched)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(TESTS)}\n"
        f"pytest_add_cli_args = {_toml_list([f'--ignore={t}' for t in FOREIGN_CWD])}\n"
        # harness/_bundled/ links to the checkout's contracts/ and scenarios/; tests read docs/
        f"also_copy = {_toml_list(COPIED)}\n"
    )
    with (checkout / "pyproject.toml").open("a", encoding="utf-8") as config:
        config.write(section)


def mutmut(checkout: Path, *args: str, check: bool = True) -> str:
    command = [sys.executable, "-m", "mutmut", *args]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"}
    done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(
            f"mutmut {' '.join(args[:2])} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return done.stdout


def statuses(checkout: Path) -> dict[str, str]:
    """Every mutant's name and status ('not checked' until it has run)."""
    found = {}
    for line in mutmut(checkout, "results", "--all", "true").splitlines():
        name, _, status = line.strip().rpartition(": ")
        if "__mutmut_" in name:
            found[name] = status
    return found


def wilson(killed: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson interval of a kill share."""
    if n == 0:
        return 0.0, 0.0
    p = killed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def score(sampled: dict[str, str]) -> dict[str, Any]:
    killed = sum(status in KILLED for status in sampled.values())
    low, high = wilson(killed, len(sampled))
    return {
        "mutants": len(sampled),
        "killed": killed,
        "score": killed / len(sampled) if sampled else 0.0,
        "interval_95": [round(low, 3), round(high, 3)],
        "statuses": dict(Counter(sampled.values())),
    }


def package(name: str) -> str:
    return next((label for prefix, label in PACKAGES.items() if name.startswith(prefix)), "other")


def measure(sample: int = SAMPLE, seed: int = SEED) -> dict[str, Any]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="test-mutation-") as folder:
        checkout = copy_checkout(Path(folder) / "checkout")
        configure(checkout)
        # Generate every mutant and trace the tests once; the filter matches no mutant,
        # so nothing runs yet (mutmut then exits non-zero, by design).
        mutmut(checkout, "run", "--max-children", "2", "no-such-mutant", check=False)
        every = statuses(checkout)
        if not every:
            raise RuntimeError("mutmut generated no mutants")
        prepared = time.monotonic() - started
        chosen = sorted(random.Random(seed).sample(sorted(every), min(sample, len(every))))
        mutmut(checkout, "run", "--max-children", "2", *chosen)
        after = statuses(checkout)
    sampled = {name: after[name] for name in chosen}
    by_package: dict[str, dict[str, str]] = {}
    for name, status in sampled.items():
        by_package.setdefault(package(name), {})[name] = status
    survivors = sorted(n for n, s in sampled.items() if s not in KILLED)
    return {
        **score(sampled),
        "generated": len(every),
        "generated_by_package": dict(Counter(package(n) for n in every)),
        "by_package": {label: score(rows) for label, rows in sorted(by_package.items())},
        "seed": seed,
        "tests": TESTS,
        "prepare_s": round(prepared, 1),
        "wall_s": round(time.monotonic() - started, 1),
        "survivors": survivors,
        "target": "report the share killed (no gate)",
        "met": True,
    }


async def run(sample: int = SAMPLE) -> dict[str, Any]:
    # mutmut runs in its own processes; nothing here needs the loop.
    return {"code_mutation_score": await asyncio.to_thread(measure, sample)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench/results-test-mutation.json"))
    parser.add_argument("--sample", type=int, default=SAMPLE)
    args = parser.parse_args()
    results = asyncio.run(run(args.sample))
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(_common.summary(results)))


if __name__ == "__main__":
    main()
