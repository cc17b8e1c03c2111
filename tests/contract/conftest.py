"""Fixtures for the contract tests: bundled paths, a CLI runner, live reference backends.

schemathesis' ``case.call`` is synchronous, so the backends run on a loop in a helper
thread: on the test's own loop a blocking call would deadlock the servers it waits for.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from harness.backends.server import ReferenceBackends
from harness.contract.cli import contract_command, gate_command, provider_command

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


@click.group()
def cli() -> None:
    """The contract commands on their own group, as harness.cli attaches them."""


for _command in (contract_command, provider_command, gate_command):
    cli.add_command(_command)


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None


def invoke(*args: str, env: dict[str, str] | None = None) -> Run:
    """Run `ivr-harness ARGS` in-process; stdout and stderr apart."""
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=True)
    return Run(result.exit_code, result.stdout, result.stderr, result.exception)


@dataclass
class Live:
    urls: dict[str, str]
    hosts: dict[str, str]


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        async with ReferenceBackends(api_key=API_KEY, clients=CLIENTS) as b:
            stop = asyncio.Event()
            holder.update(urls=dict(b.urls), hosts=dict(b.hosts), stop=stop)
            holder["loop"] = asyncio.get_running_loop()
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "backends did not start"
    yield Live(urls=holder["urls"], hosts=holder["hosts"])
    holder["loop"].call_soon_threadsafe(holder["stop"].set)
    thread.join(10)
