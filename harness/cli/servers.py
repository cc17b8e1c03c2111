"""The stand-ins, standalone: `toxiproxy serve` and `backend serve`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from harness.cli.app import serve_until_stopped
from harness.cli.options import FiniteFloat, allow_non_loopback_option

if TYPE_CHECKING:
    from harness.backends.flowapi import FlowApiStandIn
    from harness.backends.server import ReferenceBackends

__all__ = ["backend", "toxiproxy"]

F = TypeVar("F", bound=Callable[..., Any])


def _seconds(name: str, default: float, help: str) -> Callable[[F], F]:
    """A finite number of seconds, 1 ms to an hour."""
    return click.option(
        name, type=FiniteFloat(min=0.001, max=3600), default=default, show_default=True, help=help
    )


@click.group()
def toxiproxy() -> None:
    """Toxiproxy-compatible fault proxy."""


@toxiproxy.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="API listen address.")
@click.option(
    "--port",
    default=8474,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="API port (0: any).",
)
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="JSON list of proxies to create at startup (Toxiproxy's -config format).",
)
@click.option("--seed", type=int, default=None, help="Seed for jitter and toxicity rolls.")
@click.option(
    "--allow-non-loopback",
    is_flag=True,
    help="Let the API and proxies listen on, and proxies relay to, non-loopback hosts.",
)
@click.option("--max-proxies", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option(
    "--max-connections-per-proxy", type=click.IntRange(min=1), default=1024, show_default=True
)
@click.option(
    "--max-clients",
    type=click.IntRange(min=1),
    default=None,
    help="Client connections of all proxies together (default: what file descriptors allow).",
)
@click.option(
    "--max-api-connections",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Open API connections; a new one replaces the oldest idle or dribbling one.",
)
@_seconds("--read-timeout", 15.0, "Seconds a client has to send one whole API request.")
@_seconds(
    "--header-timeout",
    5.0,
    "Seconds a client has to send a request's header (at most --read-timeout).",
)
def toxiproxy_serve(
    host: str,
    port: int,
    config: Path | None,
    seed: int | None,
    allow_non_loopback: bool,
    max_proxies: int,
    max_connections_per_proxy: int,
    max_clients: int | None,
    max_api_connections: int,
    read_timeout: float,
    header_timeout: float,
) -> None:
    """Serve the Toxiproxy HTTP API; prints the API URL as the first line of stdout.

    Loopback only unless --allow-non-loopback: a CI runner's ports are reachable by every
    job on it, and a proxy is a relay. SIGINT, SIGTERM, SIGHUP and SIGQUIT stop it
    cleanly (every proxy closed) with exit code 128 + the signal's number.
    """
    from harness.faults.toxiproxy import Limits, check_serve_options, serve

    for warning in check_serve_options(host, port, allow_non_loopback):
        click.echo(f"warning: {warning}", err=True)
    limits = Limits(
        allow_non_loopback=allow_non_loopback,
        max_proxies=max_proxies,
        max_connections_per_proxy=max_connections_per_proxy,
        max_clients=max_clients,
        max_api_connections=max_api_connections,
        read_timeout_s=read_timeout,
        header_timeout_s=header_timeout,
    )
    serve_until_stopped(serve(host, port, config, on_ready=_announce, seed=seed, limits=limits))


@toxiproxy.command("prune")
@click.option(
    "--toxiproxy-url",
    default=None,
    help="The Toxiproxy server (default: $TOXIPROXY_URL).",
)
def toxiproxy_prune(toxiproxy_url: str | None) -> None:
    """Remove the proxies of harness runs on this host whose process is gone.

    Runs name their proxies RUN-NAME@HOST:PID and remove them on every exit they can
    see; after a SIGKILL or an out-of-memory kill they cannot, so `suite` and `chaos`
    prune a shared server when they start, and this command does it on demand. A live
    run's proxies, another host's and any proxy not made by the harness are kept.
    Exit 2 when a dead run's proxy cannot be removed (each is named on stderr).
    """
    from harness.cli.app import run_async
    from harness.errors import ConfigError, HarnessError
    from harness.faults.client import ToxiproxyControl, resolve_url

    url = resolve_url(toxiproxy_url)
    if url is None:
        raise ConfigError(
            "no Toxiproxy server named", file="--toxiproxy-url", hint="or set TOXIPROXY_URL"
        )
    removed, failed = run_async(ToxiproxyControl(url, "prune").prune_dead())
    for name in removed:
        click.echo(f"removed {name}")
    click.echo(f"{len(removed)} proxies of dead runs removed from {url}")
    if failed:
        for line in failed:
            click.echo(f"not removed: {line}", err=True)
        raise HarnessError(f"{len(failed)} proxies of dead runs could not be removed from {url}")


def _announce(url: str) -> None:
    click.echo(url)
    sys.stdout.flush()


@click.group()
def backend() -> None:
    """Reference backends (CRM, tickets, OAuth, the Flow API) with a fault-control API."""


@backend.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port-base",
    type=click.IntRange(0, 65532),
    default=0,
    show_default=True,
    help="crm on N, tickets on N+1, oauth on N+2, flowapi on N+3; 0 picks free ports.",
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
@click.option(
    "--tenant-flows",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="Flow files the Flow API stand-in starts with, as if deployed.",
)
@allow_non_loopback_option
def backend_serve(
    host: str,
    port_base: int,
    api_key: str,
    clients: tuple[str, ...],
    seed: int,
    token_ttl: int,
    tenant_flows: Path | None,
    allow_non_loopback: bool,
) -> None:
    """Serve the backends and print their URLs; stop with Ctrl-C (or SIGTERM, SIGHUP,
    SIGQUIT: exit code 128 + the signal's number after a clean shutdown).

    The Flow API stand-in grants every --client the guide's scopes (flow:edit,
    integration:manage, api:read).
    """
    from harness.backends.server import ReferenceBackends
    from harness.loopback import is_loopback

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
    from harness.backends.flowapi import FlowApiStandIn, seed_documents

    flow_api = FlowApiStandIn(
        clients=parsed,
        flows=seed_documents(tenant_flows) if tenant_flows is not None else (),
        token_ttl_s=token_ttl,
        host=host,
        port=port_base + 3 if port_base else 0,
        seed=seed,
        allow_non_loopback=allow_non_loopback,
    )
    serve_until_stopped(_run_backends(backends, flow_api))


async def _run_backends(backends: ReferenceBackends, flow_api: FlowApiStandIn) -> None:
    from harness.backends.server import GUIDE_HOSTS

    async with backends as b, flow_api:
        for name, url in b.urls.items():
            click.echo(f"{name:8} {url}  ({GUIDE_HOSTS[name]})")
        click.echo(f"flowapi  {flow_api.url}  (the Flow API of ENV.niceincontact.com)")
        click.echo("fault control: POST/GET/DELETE <url>/__faults; log: GET <url>/__requests")
        await asyncio.Event().wait()
