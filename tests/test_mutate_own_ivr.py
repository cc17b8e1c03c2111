"""Acceptance: `mutate` starts from green, on an IVR the harness has never seen.

A temporary repository holds the team's own flow, its OpenAPI spec, an
`ivr-harness.toml` (so the fault battery generated from the flow is part of the suite)
and one hand-written scenario with a check the original flow already fails. Through
the real CLI: that check is listed once as "the original already fails this" and
kills no mutant (the verdicts are the ones the suite gives without it); `--min-score`
refuses to score over it; a second `--incremental` run reuses every verdict.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.fixtures.cli_run import ROOT
from tests.fixtures.own_ivr import KEY_ENV, write_project

HELD = "the caller hears the order status"
RED = "every caller reaches the orders desk"  # the flow says goodbye after the status
SECRET = "orders-key-5e1f"


def _scenario(*checks: str) -> str:
    expect = {
        HELD: "  - visits: say-status\n    title: " + HELD + "\n",
        RED: "  - outcome: transfer:orders-desk\n    title: " + RED + "\n",
    }
    return (
        "name: order-status-by-hand\n"
        "entry: order-status\n"
        "callers: {count: 1, dtmf: ['12345#']}\n"
        "expect:\n" + "".join(expect[c] for c in checks)
    )


class Done:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = code, stdout, stderr

    def results(self, reports: Path) -> dict[str, Any]:
        (folder,) = reports.iterdir()
        document: dict[str, Any] = json.loads((folder / "results.json").read_text())
        return document


async def mutate(cwd: Path, *args: str) -> Done:
    """`ivr-harness mutate ARGS` as a user runs it in `cwd`."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", KEY_ENV: SECRET,
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "harness.cli", "mutate", "flows", *args,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=50)
    return Done(process.returncode or 0, out.decode(), err.decode())


def _project(root: Path, *checks: str) -> Path:
    write_project(root)
    (root / "scenarios").mkdir()
    (root / "scenarios" / "by-hand.yaml").write_text(_scenario(*checks))
    return root


# A trap judged by the scenarios alone (--no-lint): what kills it is theirs to say.
TRAPS = ("--trap", "404-to-success", "--no-lint")


async def test_a_check_the_original_already_fails_kills_no_mutant(tmp_path: Path) -> None:
    red = _project(tmp_path / "red", HELD, RED)
    green = _project(tmp_path / "green", HELD)
    inc = "--incremental=mutation.json"
    with_red, without = await asyncio.gather(
        mutate(red, *TRAPS, inc, "--report-dir=r1"), mutate(green, *TRAPS, "--report-dir=r1")
    )
    assert with_red.returncode == 0, with_red.stdout + with_red.stderr
    assert without.returncode == 0, without.stdout + without.stderr

    # Listed once, loudly, and named as what it is.
    assert with_red.stdout.count("THE ORIGINAL ALREADY FAILS THIS") == 1
    (line,) = [x for x in with_red.stdout.splitlines() if "ALREADY FAILS" in x]
    assert f"order-status-by-hand: {RED}: fails:" in line
    assert "ALREADY FAILS" not in without.stdout

    document = with_red.results(red / "r1")
    assert document["original"]["red"] == ["order-status-by-hand"]
    assert [(a["scenario"], a["check"]) for a in document["original"]["already_failing"]] == [
        ("order-status-by-hand", RED)
    ]
    assert document["scenarios"] > 1  # the generated battery ran beside the hand scenario
    # It kills nothing: no mutant names it, and every verdict is the one the suite
    # gives without it (it used to turn every mutant it ran on into a "kill").
    mutants = document["mutants"]
    assert mutants and not any(RED in k for m in mutants for k in m["killed_by"])
    baseline = {m["id"]: m["status"] for m in without.results(green / "r1")["mutants"]}
    assert set(baseline) == {m["id"] for m in mutants}
    for m in mutants:  # (inconclusive: this machine was too loaded to tell either way)
        if "inconclusive" not in (m["status"], baseline[m["id"]]):
            assert m["status"] == baseline[m["id"]], m
    assert any(m["runs"] for m in mutants)  # the hand scenario and the battery ran on them

    # Nothing changed: a second incremental run reuses the original and every verdict.
    again = await mutate(red, *TRAPS, inc, "--report-dir=r2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "the original's run: reused from mutation.json" in again.stdout
    second = again.results(red / "r2")
    assert second["runs"] == 0 and second["reused"] == len(mutants)
    assert {m["id"]: m["status"] for m in second["mutants"]} == {
        m["id"]: m["status"] for m in mutants
    }
    assert again.stdout.count("THE ORIGINAL ALREADY FAILS THIS") == 1
    # The API key came from the environment: in no report and not in the kept verdicts.
    written = [p.read_bytes() for p in red.rglob("*") if p.is_file() and p.suffix != ".yaml"]
    assert not any(SECRET.encode() in blob for blob in written)


async def test_min_score_refuses_to_score_over_a_red_original(tmp_path: Path) -> None:
    red = _project(tmp_path / "red", HELD, RED)
    done = await mutate(red, "--min-score", "50", "--report-dir=reports")
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: the original flow set already fails")
    assert "Traceback" not in done.stderr and "--min-score refuses" in lines[0]
    assert f"order-status-by-hand: {RED}" in done.stdout  # what it already fails, listed
    assert not (red / "reports").exists()  # no mutant ran, no score was written
