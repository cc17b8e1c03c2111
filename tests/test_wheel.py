"""A user installs a wheel, not a checkout.

The wheel is built from this checkout, installed with its declared dependencies into
a fresh virtual environment outside it, and every documented job is run from an
empty temporary folder: nothing may exit 2 for a missing file or end in a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")


@pytest.fixture(scope="module")
def ivr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The `ivr-harness` script of a fresh environment with the built wheel installed."""
    if not UV.is_file():
        pytest.skip(f"uv is not installed beside {sys.executable} (make installs it)")
    base = tmp_path_factory.mktemp("wheel")
    dist, venv = base / "dist", base / "venv"
    _ok([UV, "build", "--quiet", "--wheel", "--out-dir", dist, ROOT], cwd=base)
    (wheel,) = dist.glob("ivr_harness-*.whl")
    _ok([UV, "venv", "--quiet", "--python", sys.executable, venv], cwd=base)
    _ok([UV, "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel], cwd=base)
    yield venv / "bin" / "ivr-harness"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**env, "NO_COLOR": "1", "TOXIPROXY_URL": ""}


def _ok(command: list[object], cwd: Path) -> None:
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _run(ivr: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(ivr), *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert "is missing" not in done.stderr, done.stderr
    return done


def test_version_and_help_run_outside_the_checkout(ivr: Path, tmp_path: Path) -> None:
    version = _run(ivr, tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("ivr-harness, version ")
    commands = _run(ivr, tmp_path, "--help").stdout
    for name in ("suite", "chaos", "gate", "lint", "budget", "load", "examples", "toxiproxy"):
        assert f"  {name} " in commands


def test_static_jobs_on_the_bundled_examples(ivr: Path, tmp_path: Path) -> None:
    copied = _run(ivr, tmp_path, "examples", "demo")
    assert copied.returncode == 0, copied.stderr
    demo = tmp_path / "demo"
    assert not str(demo.resolve()).startswith(str(ROOT))
    seed = _run(ivr, tmp_path, "lint", "demo/flows/seed")
    assert seed.returncode == 1 and "IVR011" in seed.stdout  # the seed's known defects
    assert _run(ivr, tmp_path, "lint", "demo/flows/hardened").returncode == 0
    assert _run(ivr, tmp_path, "budget", "demo/flows/hardened").returncode == 0
    gate = _run(
        ivr,
        tmp_path,
        "gate",
        "demo/flows/hardened",
        "--spec", "api.crm-provider.com=demo/openapi/crm.yaml",
        "--spec", "api.service-provider.com=demo/openapi/tickets.yaml",
        "--spec", "auth.crm-provider.com=demo/openapi/oauth.yaml",
        "--max-examples", "20",
        "--run-id", "wheel",
    )  # fmt: skip
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert {p.name for p in (tmp_path / "reports" / "wheel").iterdir()} == {
        "lint.sarif", "junit.xml", "results.json",
    }  # fmt: skip


def test_chaos_runs_one_bundled_scenario(ivr: Path, tmp_path: Path) -> None:
    assert _run(ivr, tmp_path, "examples", "demo").returncode == 0
    chaos = _run(ivr, tmp_path, "chaos", "demo/scenarios/503-503-200.yaml")
    assert chaos.returncode == 0, chaos.stdout + chaos.stderr
    assert "verdict pass" in chaos.stdout


def test_suite_with_no_arguments_runs_the_bundled_demo(ivr: Path, tmp_path: Path) -> None:
    # No ./scenarios here: the bundled catalogue against both bundled flow sets.
    suite = _run(ivr, tmp_path, "suite", "-k", "happy-path")
    assert suite.returncode == 0, suite.stdout + suite.stderr
    assert "verdict pass: 2 runs" in suite.stdout
    (report,) = (tmp_path / "reports").iterdir()
    assert {"events.jsonl", "results.json", "junit.xml", "report.html"} <= {
        p.name for p in report.iterdir()
    }
