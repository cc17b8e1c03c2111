"""``backend serve``: run the reference backends until Ctrl-C.

Also runnable as ``python -m harness.backends.cli serve``.
"""

from __future__ import annotations

import asyncio

import click

from harness.errors import HarnessError
from harness.loopback import is_loopback

from .server import GUIDE_HOSTS, ReferenceBackends

__all__ = ["backend"]


@click.group("backend")
def backend() -> None:
    """Reference backends (CRM, tickets, OAuth) with a fault-control API."""


@backend.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port-base",
    type=click.IntRange(0, 65533),
    default=0,
    show_default=True,
    help="crm on N, tickets on N+1, oauth on N+2; 0 picks free ports.",
)
@click.option("--api-key", default="test-api-key", show_default=True, help="Tickets X-API-Key.")
@click.option(
    "--client",
    "clients",
    multiple=True,
    metavar="ID:SECRET",
    help="OAuth client (repeatable; default ivr-client:secret).",
)
@click.option("--seed", default=0, show_default=True, help="Seed for fractional faults.")
@click.option("--token-ttl", default=3600, show_default=True, help="Token lifetime, seconds.")
@click.option("--allow-non-loopback", is_flag=True, help="Permit a host other than loopback.")
def serve(
    host: str,
    port_base: int,
    api_key: str,
    clients: tuple[str, ...],
    seed: int,
    token_ttl: int,
    allow_non_loopback: bool,
) -> None:
    """Serve the backends and print their URLs; stop with Ctrl-C."""
    if not allow_non_loopback and not is_loopback(host):
        raise click.UsageError(
            f"--host {host} is not loopback; add --allow-non-loopback if you mean it"
        )
    parsed: dict[str, str] = {}
    for item in clients or ("ivr-client:secret",):
        client_id, sep, secret = item.partition(":")
        if not sep or not client_id:
            raise click.BadParameter(f"{item!r} is not ID:SECRET", param_hint="--client")
        parsed[client_id] = secret
    ports = {} if port_base == 0 else {"crm": port_base, "tickets": port_base + 1,
                                       "oauth": port_base + 2}  # fmt: skip
    backends = ReferenceBackends(
        host=host,
        seed=seed,
        api_key=api_key,
        clients=parsed,
        token_ttl_s=token_ttl,
        ports=ports,
        allow_non_loopback=allow_non_loopback,
    )
    try:
        asyncio.run(_run(backends))
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    except HarnessError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from exc


async def _run(backends: ReferenceBackends) -> None:
    async with backends as b:
        for name, url in b.urls.items():
            click.echo(f"{name:8} {url}  ({GUIDE_HOSTS[name]})")
        click.echo("fault control: POST/GET/DELETE <url>/__faults; log: GET <url>/__requests")
        await asyncio.Event().wait()


if __name__ == "__main__":
    backend()
