"""Acceptance: an IVR the harness has never seen, end to end through the real CLI.

A temporary repository holds the team's own flow (CollectDigits -> guard -> GET
/v1/orders/{id} with an API key -> router -> transfer / hangup), its own OpenAPI
spec and an `ivr-harness.toml`. `ivr-harness suite` runs the battery generated from
the flow: the fixed flow passes; each planted defect fails with a message naming
the step and the outcome class; the same battery runs through a proxy in front of a
real upstream of the test's own; an unreachable upstream is exit 2 in one line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.asgi_server import LoopbackServer
from tests.fixtures.cli_run import ROOT, assert_one_line_error
from tests.fixtures.own_ivr import CONFIG, HOST, KEY_ENV, STEP, defect, write_project

DEFECTS = {
    "no-timeout-branch": f"{STEP}: timeout must not reach the success branch (say-status)",
    "403-to-success": f"{STEP}: 403 must not reach the success branch (say-status)",
    "retry-on-400": f"{STEP}: 400 is not retried",
}


class Done:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = code, stdout, stderr


async def suite(cwd: Path, *args: str) -> Done:
    """`ivr-harness suite ARGS` as a user runs it in `cwd` (the loop keeps serving meanwhile)."""
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "COLUMNS": "200",
        KEY_ENV: "orders-key-5e1f",
        "PYTHONPATH": str(ROOT),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "harness.cli", "suite", "--report-dir", str(cwd / "reports"), *args,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=50)
    return Done(process.returncode or 0, out.decode(), err.decode())


def fail_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FAIL ")]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "orders-ivr")
    for name in DEFECTS:
        (root / name).mkdir()
        (root / name / "order-status.json").write_text(json.dumps(defect(name)))
    return root


async def test_the_fixed_flow_passes_the_generated_battery(project: Path) -> None:
    done = await suite(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "battery-order-status-http-get-order-timeout" in done.stdout
    assert "verdict pass" in done.stdout
    # The API key came from the environment; it is in no report, in any file.
    written = [p.read_bytes() for p in (project / "reports").rglob("*") if p.is_file()]
    assert written and not any(b"orders-key-5e1f" in blob for blob in written)


async def test_each_planted_defect_fails_naming_the_step_and_outcome_class(project: Path) -> None:
    args = [f"--flows={name}" for name in DEFECTS]
    done = await suite(project, *args)
    assert done.returncode == 1, done.stdout + done.stderr
    failures = fail_lines(done.stdout)
    for flow_set, message in DEFECTS.items():
        assert any(f"[{flow_set}]: {message}" in line for line in failures), (flow_set, failures)
    # Nothing else fails: each failure is a planted defect's, on its step (a defect that
    # sends a failure class to "Your order is {{order_status}}" also makes the caller hear
    # a blank there, which the clean-output check names too).
    assert all(STEP in line and any(f"[{d}]" in line for d in DEFECTS) for line in failures)
    blanks = [line for line in failures if "no null or JSON fragment" in line]
    assert all("[retry-on-400]" not in line for line in blanks), blanks


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def order(request: Request) -> JSONResponse:
        seen.append(request.headers.get("x-api-key", ""))
        if not request.headers.get("x-api-key"):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        return JSONResponse({"id": request.path_params["id"], "status": "pending", "items": []})

    server = LoopbackServer(Starlette(routes=[Route("/v1/orders/{id}", order)]), name="orders")
    url = await server.start()
    try:
        yield url, seen
    finally:
        await server.stop()


async def test_the_same_battery_runs_against_a_real_upstream(
    project: Path, upstream: tuple[str, list[str]]
) -> None:
    url, seen = upstream
    spec_line = 'spec = "openapi/orders.yaml"'
    config = CONFIG.replace(spec_line, f'{spec_line}\nbase_url = "{url}"')
    (project / "ivr-harness.toml").write_text(config)
    done = await suite(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert seen and set(seen) == {"orders-key-5e1f"}  # the proxy forwarded, key and all


async def test_an_unreachable_upstream_is_exit_2_in_one_line(
    project: Path, refused_url: str
) -> None:
    done = await suite(project, "--base-url", f"{HOST}={refused_url}")
    message = f"backend for {HOST} at {refused_url} does not answer"
    assert_one_line_error(done, message)  # type: ignore[arg-type]
    assert not (project / "reports").exists() or not any((project / "reports").iterdir())
