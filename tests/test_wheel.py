"""A user installs a wheel, not a checkout.

The wheel is built from this checkout, installed with its declared dependencies into
a fresh virtual environment outside it, and every documented job is run from an
empty temporary folder: nothing may exit 2 for a missing file or end in a traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout."""
    if not UV.is_file():
        pytest.skip(f"uv is not installed beside {sys.executable} (make installs it)")
    dist = tmp_path_factory.mktemp("dist")
    _ok([UV, "build", "--quiet", "--wheel", "--out-dir", dist, ROOT], cwd=dist)
    (built,) = dist.glob("ivr_harness-*.whl")
    return built


@pytest.fixture(scope="module")
def ivr(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The `ivr-harness` script of a fresh environment with the built wheel installed."""
    base = tmp_path_factory.mktemp("wheel")
    venv = base / "venv"
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
        "lint.sarif", "junit.xml", "results.json", "pacts",  # a passing gate's pacts
    }  # fmt: skip
    assert list((tmp_path / "reports" / "wheel" / "pacts").glob("*.json"))


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


# The oldest versions pyproject.toml allows of what a team's test environment already
# holds; `make test-lowest` proves the rest of the suite at these bounds.
TEAM_STACK = {"pytest": "8.4.0", "hypothesis": "6.130.12", "httpx": "0.27.0"}


@pytest.mark.slow  # pip resolves and installs about 70 packages: a minute
@pytest.mark.timeout(300)
def test_pip_installs_the_wheel_beside_a_teams_own_stack(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    base = tmp_path_factory.mktemp("team")
    venv = base / "venv"
    python = venv / "bin" / "python"
    _ok([UV, "venv", "--quiet", "--seed", "--python", sys.executable, venv], cwd=base)
    stack = [f"{name}=={version}" for name, version in TEAM_STACK.items()]
    _ok([UV, "pip", "install", "--quiet", "--python", python, *stack], cwd=base)
    # The team's own pip must keep their versions. What they do not hold yet comes at our
    # locked versions, so the verdict does not move with the next release on PyPI.
    locked = base / "locked.txt"
    pins = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    locked.write_text("\n".join(p for p in pins if p.split("==")[0] not in TEAM_STACK))
    install = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _ok([*install, "-c", locked, wheel], cwd=base)
    frozen = subprocess.run(
        [python, "-m", "pip", "freeze"], env=_env(), capture_output=True, text=True, check=True
    ).stdout.lower()
    for name, version in TEAM_STACK.items():
        assert f"{name}=={version}" in frozen.splitlines(), frozen
    project = base / "project"
    project.mkdir()
    assert _run(venv / "bin" / "ivr-harness", project, "examples", "demo").returncode == 0
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--ivr-scenarios", "demo/scenarios", "-k", "happy-path"],
        cwd=project, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # hardened passes; the seed flow's happy path is an expected failure (its known defects)
    last = done.stdout.splitlines()[-1]
    assert re.match(r"1 passed, \d+ deselected, 1 xfailed", last), done.stdout
