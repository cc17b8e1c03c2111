"""What every command shares: NAME=VALUE options, tenant variables, exit code 2 on bad input."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from harness.errors import ConfigError, HarnessError

__all__ = ["guarded", "parse_pairs", "tenant_variables", "typed"]

T = TypeVar("T")


def guarded(action: Callable[[], T]) -> T:
    """Run `action`; a HarnessError becomes one line on stderr and exit 2, never a traceback."""
    try:
        return action()
    except HarnessError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


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
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, int | float | bool) or parsed is None else value


def tenant_variables(sets: Sequence[str], set_envs: Sequence[str]) -> dict[str, Any]:
    """Variables from `--set VAR=VALUE` and, for secrets, `--set-env VAR=ENVVAR`."""
    variables: dict[str, Any] = {k: typed(v) for k, v in parse_pairs(sets, "--set").items()}
    for var, env_name in parse_pairs(set_envs, "--set-env").items():
        if env_name not in os.environ:
            raise ConfigError(f"environment variable {env_name} is not set", file="--set-env")
        variables[var] = os.environ[env_name]
    return variables
