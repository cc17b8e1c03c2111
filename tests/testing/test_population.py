"""The population over the real CLI (issue 19): generated IVRs through init, lint, gate
and the battery, one process per command, as a team runs them.

* a correct IVR: `init` writes its configuration, then `lint` finds 0 errors, `gate`
  exits 0, the suite (the battery and init's happy path) is green, and no command exits
  with a traceback or a code other than 0/1/2;
* a planted defect in it: a dynamically observable one fails a battery run of its own
  step (`suite -k battery-<flow>-<step>-`) in a check of a class the planter expected,
  a statically visible one is named by `lint` or the gate (lint or consumer check).

A failing example (the shrunk one, Hypothesis runs it last) is copied to
`reports/population/failing/<test>/`, a ready-to-run project folder whose README says
what was planted and how to reproduce it; the assertion message prints that path.

`make test` runs 2 examples of up to 3 HTTP steps (fixed seed, about 40 s). The nightly
profile (`HYPOTHESIS_PROFILE=nightly`) runs `IVR_POPULATION_N` (default 200) examples of
up to 8 steps; `bench/bench_population.py` measures the same over 200 IVRs.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from harness.testing import Ivr, ivrs
from harness.testing.planter import Defect, plant
from harness.testing.runner import DefectResult, IvrResult, check_defect, check_ivr
from tests.fixtures.cli_run import ROOT
from tests.testing.healthy import NIGHTLY, NIGHTLY_N

N = NIGHTLY_N if NIGHTLY else 2
MAX_STEPS = 8 if NIGHTLY else 3
FAILING = ROOT / "reports" / "population" / "failing"

pytestmark = pytest.mark.timeout(600 + (N * 240 if NIGHTLY else 0))

OVER_THE_CLI = settings(
    max_examples=N,
    deadline=None,
    database=None,
    derandomize=not NIGHTLY,
    # Shrinking reruns every command of every smaller example: nightly only.
    phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if NIGHTLY else [])],
    suppress_health_check=list(HealthCheck),
)


def _keep(folder: Path, test: str) -> Path:
    """Copy a failing project folder where a developer finds it after the run."""
    where = FAILING / test
    shutil.rmtree(where, ignore_errors=True)
    shutil.copytree(folder, where, ignore=shutil.ignore_patterns("reports"))
    return where


def _correct_ivr_fails(result: IvrResult) -> list[str]:
    problems = [c.line() for c in result.commands if c.crashed]
    problems += [c.line() for c in result.commands if c.exit_code != 0]
    problems += [f.text for f in result.failures()]
    if not result.battery_runs:
        problems.append("the suite ran no battery run")
    return problems


def _pair(ivr: Ivr) -> st.SearchStrategy[tuple[Ivr, Defect | None]]:
    planted = [d for d in plant(ivr) if d.static or d.dynamic]
    return st.tuples(st.just(ivr), st.sampled_from(planted) if planted else st.none())


def _missed(defect: Defect, found: DefectResult) -> list[str]:
    problems = [c.line() for c in found.commands if c.crashed]
    if defect.static and not found.caught_static:
        problems.append(f"statically visible, but lint and the gate named none of "
                        f"{defect.expect_static}")  # fmt: skip
    if defect.dynamic and not found.caught_dynamic:
        problems.append(f"dynamically observable, but no battery run of {defect.step_id} failed")
    if defect.dynamic and found.caught_dynamic and not found.class_named:
        problems.append(f"caught, but by no run of the classes {defect.expect_dynamic}: "
                        f"{[f.text for f in found.dynamic_by]}")  # fmt: skip
    return problems


@OVER_THE_CLI
@given(ivrs(max_http_steps=MAX_STEPS).flatmap(_pair))
def test_a_correct_ivr_passes_and_its_planted_defect_is_caught(
    pair: tuple[Ivr, Defect | None],
) -> None:
    ivr, defect = pair
    note(ivr.summary())
    with tempfile.TemporaryDirectory() as tmp:
        correct = Path(tmp) / "correct"
        result = check_ivr(ivr, correct, init=True)
        problems = _correct_ivr_fails(result)
        if problems:
            where = _keep(correct, "correct-ivr")
            pytest.fail(f"a correct IVR failed ({ivr.summary()}):\n  " + "\n  ".join(problems)
                        + f"\nreproduce: cd {where} && cat README.md")  # fmt: skip
        if defect is None:
            return
        note(f"{defect.id}: {defect.change} ({sorted(defect.labels)})")
        folder = Path(tmp) / "defect"
        found = check_defect(ivr, defect, folder, result, dtmf=None)
        problems = _missed(defect, found)
        if problems:
            where = _keep(folder, "planted-defect")
            pytest.fail(f"planted defect {defect.id} ({defect.change}) missed:\n  "
                        + "\n  ".join(problems)
                        + f"\nreproduce: cd {where} && cat README.md")  # fmt: skip
