"""Fixtures for the contract tests: bundled paths, a CLI runner, live reference backends.

The live backends run in a helper thread (tests/fixtures/threaded_backends.py), because
schemathesis' ``case.call`` is synchronous.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from tests.fixtures.threaded_backends import backends_in_thread

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "contracts" / "openapi"
FLOWS = ROOT / "contracts" / "flows"
API_KEY = "k-contract"
CLIENTS = {"ivr-client": "s3cret-contract"}
GUIDE_SPECS = (
    f"api.crm-provider.com={OPENAPI / 'crm.yaml'}",
    f"api.service-provider.com={OPENAPI / 'tickets.yaml'}",
    f"auth.crm-provider.com={OPENAPI / 'oauth.yaml'}",
)


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None


def invoke(*args: str, env: dict[str, str] | None = None) -> Run:
    """Run `ivr-harness ARGS` in-process; stdout and stderr apart."""
    result = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=True)
    return Run(result.exit_code, result.stdout, result.stderr, result.exception)


@dataclass
class Live:
    urls: dict[str, str]
    hosts: dict[str, str]


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with backends_in_thread(api_key=API_KEY, clients=CLIENTS) as (urls, hosts):
        yield Live(urls=urls, hosts=hosts)
