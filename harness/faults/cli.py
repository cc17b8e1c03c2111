"""``toxiproxy`` command group: run the embedded Toxiproxy-compatible server.

Runnable on its own: ``python -m harness.faults.cli serve --port 0``.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import click

from harness.errors import HarnessError
from harness.faults.toxiproxy import serve as serve_forever

__all__ = ["toxiproxy"]


@click.group("toxiproxy")
def toxiproxy() -> None:
    """Toxiproxy-compatible fault proxy."""


@toxiproxy.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="API listen address.")
@click.option("--port", default=8474, show_default=True, type=int, help="API port (0: any).")
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="JSON list of proxies to create at startup (Toxiproxy's -config format).",
)
@click.option("--seed", type=int, default=None, help="Seed for jitter and toxicity rolls.")
def serve_command(host: str, port: int, config: Path | None, seed: int | None) -> None:
    """Serve the Toxiproxy HTTP API; prints the API URL as the first line of stdout."""
    try:
        asyncio.run(_run(host, port, config, seed))
    except HarnessError as err:
        click.echo(str(err), err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        pass


async def _run(host: str, port: int, config: Path | None, seed: int | None) -> None:
    task = asyncio.current_task()
    if task is not None:
        # SIGTERM ends the server the same clean way Ctrl-C does.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await serve_forever(host, port, config, on_ready=_announce, seed=seed)
    except asyncio.CancelledError:
        return


def _announce(url: str) -> None:
    click.echo(url)
    sys.stdout.flush()


if __name__ == "__main__":
    toxiproxy()
