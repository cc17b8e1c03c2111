"""What the commands share: option blocks, NAME=VALUE parsing, tenant variables.

Every option block is declared once here and stacked on the commands that take it,
so `--set`, `--report-dir` or `--toxiproxy-url` mean the same everywhere.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.config import BackendEntry, ProjectConfig

__all__ = [
    "FiniteFloat",
    "allow_non_loopback_option",
    "base_url_option",
    "parse_pairs",
    "probe_backends",
    "project_backends",
    "project_config",
    "report_dir_option",
    "set_options",
    "tenant_variables",
    "toxiproxy_url_option",
    "typed",
]

F = TypeVar("F", bound=Callable[..., Any])


class FiniteFloat(click.FloatRange):
    """click's FloatRange, refusing nan and infinity (a usage error, exit 2).

    click accepts both, and NaN passes every bound (each comparison with it is false):
    `--min-score nan` would switch the gate off without a word.
    """

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not math.isfinite(click.FLOAT.convert(value, param, ctx)):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(value, param, ctx)


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


set_options = _stack(
    click.option("--set", "sets", multiple=True, metavar="VAR=VALUE", help="Set a flow variable."),
    click.option(
        "--set-env",
        "set_envs",
        multiple=True,
        metavar="VAR=ENVVAR",
        help="Set a flow variable from an environment variable (for secrets).",
    ),
)

report_dir_option = click.option(
    "--report-dir",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Reports go to REPORT_DIR/<run-id>/.",
)

toxiproxy_url_option = click.option(
    "--toxiproxy-url",
    default=None,
    help="Drive this Toxiproxy server (default: $TOXIPROXY_URL, else an embedded one).",
)

allow_non_loopback_option = click.option(
    "--allow-non-loopback", is_flag=True, help="Allow targets outside 127.0.0.0/8 and ::1."
)


def parse_pairs(values: Sequence[str], option: str) -> dict[str, str]:
    """NAME=VALUE pairs from repeated options, with a usage error naming the bad one."""
    pairs: dict[str, str] = {}
    for raw in values:
        name, sep, value = raw.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{option} expects NAME=VALUE, got '{raw}'", file=option)
        pairs[name.strip()] = value
    return pairs


def typed(value: str) -> Any:
    """`--set n=3` gives a number, `--set flag=true` a boolean, anything else a string."""
    try:
        parsed = json.loads(value, parse_constant=_not_json)  # NaN, Infinity: kept as text
    except ValueError:
        return value
    return parsed if isinstance(parsed, int | float | bool) or parsed is None else value


def _not_json(name: str) -> Any:
    raise ValueError(name)


def tenant_variables(sets: Sequence[str], set_envs: Sequence[str]) -> dict[str, Any]:
    """Variables from `--set VAR=VALUE` and, for secrets, `--set-env VAR=ENVVAR`."""
    variables: dict[str, Any] = {k: typed(v) for k, v in parse_pairs(sets, "--set").items()}
    for var, env_name in parse_pairs(set_envs, "--set-env").items():
        if env_name not in os.environ:
            raise ConfigError(f"environment variable {env_name} is not set", file="--set-env")
        variables[var] = os.environ[env_name]
    return variables


def project_config(*, secrets: bool = True) -> ProjectConfig | None:
    """The project configuration that applies here (ivr-harness.toml or [tool.ivr-harness]).

    Flags override it: every command reads it through this one helper and falls back
    to its own defaults when there is none.
    """
    from harness.config import find_config, load_config

    path = find_config()
    return load_config(path, resolve_secrets=secrets) if path is not None else None


def base_url_option(function: F) -> F:
    """`--base-url HOST=URL`, repeatable: a real upstream for a flow host."""
    return click.option(
        "--base-url",
        "base_urls",
        multiple=True,
        metavar="HOST=URL",
        help="Send requests for HOST (e.g. api.orders.example.com) to URL.",
    )(function)


def project_backends(
    project: ProjectConfig | None, base_urls: Sequence[str]
) -> dict[str, BackendEntry]:
    """The project's backends by flow host, with `--base-url HOST=URL` overriding or adding."""
    from harness.config import BackendEntry, check_base_url

    backends = dict(project.backends) if project is not None else {}
    for host, url in parse_pairs(base_urls, "--base-url").items():
        check_base_url(url, file="--base-url", pointer=f"/{host}")
        spec = backends[host].spec if host in backends else None
        backends[host] = BackendEntry(host=host, spec=spec, base_url=url)
    return backends


def probe_backends(backends: Mapping[str, BackendEntry], allow_non_loopback: bool = False) -> None:
    """Probe every real upstream before anything runs: one that does not answer is exit 2."""
    from harness.backends.upstream import probe_upstream
    from harness.cli.app import run_async

    async def probe_all() -> None:
        for host, entry in backends.items():
            if entry.base_url:
                await probe_upstream(host, entry.base_url, allow_non_loopback=allow_non_loopback)

    run_async(probe_all())
