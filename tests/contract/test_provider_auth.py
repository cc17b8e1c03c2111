"""Provider runs against a backend that demands credentials; seeds replay a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract.conftest import invoke
from tests.fixtures.secured_app import SESSION, TOKEN, secured_server

SPEC = Path(__file__).parent / "data" / "secured" / "items.yaml"


def test_no_credentials_for_a_secured_spec_is_one_line_exit_2() -> None:
    with secured_server() as url:
        run = invoke("provider", SPEC, "--base-url", url)
    assert run.exit_code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "security scheme 'bearerAuth' (http bearer)" in lines[0]
    assert "--auth-bearer TOKEN" in lines[0]
    assert "items.yaml#/components/securitySchemes/bearerAuth" in lines[0]
    assert "401" not in run.stdout


@pytest.mark.parametrize(
    "credentials", [("--auth-bearer", TOKEN), ("--auth-cookie", f"session={SESSION}")]
)
def test_with_credentials_there_are_no_401s(credentials: tuple[str, str]) -> None:
    with secured_server() as url:
        run = invoke("provider", SPEC, "--base-url", url, "--max-examples", "10", *credentials)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "401" not in run.stdout.replace("refused (401/403)", "")
    assert TOKEN not in run.stdout and SESSION not in run.stdout


def test_rejected_credentials_are_an_authentication_problem_not_a_failure() -> None:
    with secured_server() as url:
        run = invoke("provider", SPEC, "--base-url", url, "--max-examples", "5",
                     "--auth-bearer", "wrong")  # fmt: skip
    assert run.exit_code == 2, run.stdout
    assert "AUTH GET /items/{itemId}:" in run.stdout
    assert "authentication problem" in run.stdout
    assert "0 backend failures" in run.stdout
    assert "Undocumented" not in run.stdout


def test_a_seed_replays_a_failure_exactly() -> None:
    args = ("--max-examples", "15", "--auth-bearer", TOKEN, "--seed", "1234")
    with secured_server(buggy_above=300) as url:
        first = invoke("provider", SPEC, "--base-url", url, *args)
        second = invoke("provider", SPEC, "--base-url", url, *args)
    assert first.exit_code == second.exit_code == 1, first.stdout
    assert "(seed 1234)" in first.stdout
    assert "reproduce: curl" in first.stdout
    assert first.stdout == second.stdout


def test_examples_are_checked_with_their_formats(tmp_path: Path) -> None:
    from harness.contract.examples import example_defects
    from harness.contract.openapi import load_spec

    spec = tmp_path / "formats.yaml"
    spec.write_text(
        "openapi: 3.0.3\ninfo: {title: F, version: '1'}\npaths:\n  /things/{id}:\n    get:\n"
        "      parameters:\n        - name: id\n          in: path\n          required: true\n"
        "          schema: {type: string, format: uuid}\n          example: not-a-uuid\n"
        "      responses:\n        '200':\n          description: ok\n          content:\n"
        "            application/json:\n              schema:\n"
        "                properties: {at: {type: string, format: date-time}}\n"
        "              example: {at: '2026-02-30T10:00:00Z'}\n"
    )
    defects, _ = example_defects(load_spec(spec))
    assert [d.pointer for d in defects] == [
        "#/paths/~1things~1{id}/get/parameters/0/example",
        "#/paths/~1things~1{id}/get/responses/200/content/application~1json/example",
    ]
    assert "'not-a-uuid' is not a 'uuid'" in defects[0].message
