"""Bad input through the real command line: exit 2, one `error: <file> ...` line, no traceback.

Every loader (flows, scenarios, OpenAPI specs, lint configs) reads through
`harness.inputs`, so non-UTF-8 bytes, 100,000-deep nesting and a YAML alias bomb are
one clear line each, never a RecursionError, a UnicodeDecodeError or a hang.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.cli_run import assert_one_line_error, run_cli
from tests.fixtures.flows import HARDENED
from tests.test_inputs import alias_bomb

DEEP = 100_000
# name -> (bytes of a bad file, what the one line must say about it)
BAD = {
    "non-utf8": (b'{"name": "caf\xe9"}\n', "not UTF-8: byte 0xe9 at offset 13 (line 1)"),
    "deep": (b"[" * DEEP + b"]" * DEEP + b"\n", "nested more than 64 levels deep"),
}
Case = Callable[[Path, Path], list[str]]


def _flow_dir(tmp: Path, bad: Path) -> Path:
    flows = tmp / "flows"
    flows.mkdir()
    bad.rename(flows / "main.json")
    return flows / "main.json"


def _lint_flow(tmp: Path, bad: Path) -> list[str]:
    return ["lint", str(_flow_dir(tmp, bad).parent)]


def _budget_flow(tmp: Path, bad: Path) -> list[str]:
    return ["budget", str(_flow_dir(tmp, bad).parent)]


def _suite_scenario(tmp: Path, bad: Path) -> list[str]:
    return ["suite", str(bad), "--report-dir", str(tmp / "reports")]


def _chaos_scenario(tmp: Path, bad: Path) -> list[str]:
    return ["chaos", str(bad), "--report-dir", str(tmp / "reports")]


def _contract_spec(tmp: Path, bad: Path) -> list[str]:
    return ["contract", str(HARDENED), "--spec", f"api.crm-provider.com={bad}"]


def _lint_config(tmp: Path, bad: Path) -> list[str]:
    return ["lint", str(HARDENED), "--lint-config", str(bad)]


CASES: dict[str, tuple[str, Case]] = {
    "lint-flow": ("main.json", _lint_flow),
    "budget-flow": ("main.json", _budget_flow),
    "suite-scenario": ("bad.yaml", _suite_scenario),
    "chaos-scenario": ("bad.yaml", _chaos_scenario),
    "contract-spec": ("crm.yaml", _contract_spec),
    "lint-config-toml": ("lint.toml", _lint_config),
    "lint-config-json": ("lint.json", _lint_config),
}


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_is_one_line_and_exit_2(tmp_path: Path, case: str, kind: str) -> None:
    name, build = CASES[case]
    content, needle = BAD[kind]
    bad = tmp_path / name
    bad.write_bytes(content)
    args = build(tmp_path, bad)
    result = run_cli(*args)
    line = assert_one_line_error(result, needle)
    assert line.startswith(f"error: {tmp_path}") and f"{name}: " in line, line
    assert not (tmp_path / "reports").exists()  # nothing left behind


@pytest.mark.parametrize("command", ["suite", "chaos"])
def test_yaml_alias_bomb_in_a_scenario_fails_fast(tmp_path: Path, command: str) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("name: bomb\nexpect: [{outcome: hangup}]\n" + alias_bomb())
    started = time.monotonic()
    result = run_cli(command, str(bomb), "--report-dir", str(tmp_path / "r"), timeout=60)
    # A hang check, not a speed check: unbounded, this runs for minutes and eats gigabytes.
    assert time.monotonic() - started < 20
    assert_one_line_error(result, f"{bomb}: ", "alias bomb")


@pytest.mark.parametrize("run_id", ["../../escaped", "a/b", ".."])
def test_gate_run_id_cannot_write_outside_the_report_dir(tmp_path: Path, run_id: str) -> None:
    reports = tmp_path / "deep" / "er" / "reports"
    reports.mkdir(parents=True)
    spec = HARDENED.parents[1] / "openapi" / "crm.yaml"
    result = run_cli(
        "gate",
        str(HARDENED),
        "--spec",
        f"api.crm-provider.com={spec}",
        "--report-dir",
        str(reports),
        "--run-id",
        run_id,
        "--max-examples",
        "1",
    )
    assert_one_line_error(result, "--run-id", "is not a plain name")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == []
