"""What `contract`, `provider` and `gate` take from the project configuration.

The same truth `suite` runs on: the project's first flow folder, each
`[backends."HOST"]` `spec` (named by HOST, as the flows call it) and `base_url`, its
`[secrets]` as flow variables, its `dead-air-ms` and `[lint]` table. Flags win, a whole
kind at a time: any `--spec` replaces the configured specs, any `--base-url` the
configured base URLs, `--set`/`--set-env` override single secrets. Secrets are resolved
only when something will be sent (a provider run): an offline check never needs them.

A provider run's credentials: the `--auth-*`/`--oauth-*` options as given; else the way
the flows send them (`--flows`, else the project's flows with its secrets).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cli.options import parse_pairs, project_config, tenant_variables
from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.config import ProjectConfig

__all__ = [
    "ProviderTarget",
    "base_urls_of",
    "open_project",
    "provider_auth",
    "provider_targets",
    "specs_of",
    "variables_of",
]


def specs_of(specs: Sequence[str], project: ProjectConfig | None) -> list[str]:
    """`--spec` as given, else `HOST=SPEC` for every configured backend with a spec."""
    if specs:
        return list(specs)
    configured = [
        f"{host}={entry.spec}" for host, entry in _backends(project) if entry.spec is not None
    ]
    if configured:
        return configured
    raise ConfigError(
        "no OpenAPI spec given",
        file="--spec",
        hint='pass --spec HOST=SPEC, or name one per host in ivr-harness.toml: [backends."HOST"] '
        'spec = "openapi/x.yaml"',
    )


def base_urls_of(base_urls: Sequence[str], project: ProjectConfig | None) -> dict[str, str]:
    """`--base-url NAME=URL` as given, else every configured backend's `base_url`."""
    if base_urls:
        return parse_pairs(base_urls, "--base-url")
    return {host: entry.base_url for host, entry in _backends(project) if entry.base_url}


def variables_of(
    sets: Sequence[str], set_envs: Sequence[str], project: ProjectConfig | None, *, send: bool
) -> dict[str, Any]:
    """Flow variables for a run: the project's secrets (resolved now, when ``send``), then
    `--set` and `--set-env` on top."""
    secrets: dict[str, Any] = {}
    if send and project is not None:
        from harness.config import load_config

        secrets = dict(load_config(project.path, resolve_secrets=True).secrets)
    return {**secrets, **tenant_variables(sets, set_envs)}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderTarget:
    """One provider run: a host's spec against its base URL."""

    host: str
    spec: Path
    base_url: str


def provider_targets(
    spec: Path | None, base_url: str | None, project: ProjectConfig | None
) -> list[ProviderTarget]:
    """SPEC and --base-url as given; else the configured backends with both a spec and a
    base URL (only the one whose spec is SPEC, when SPEC is given)."""
    if spec is not None and base_url:
        return [ProviderTarget(host="", spec=spec, base_url=base_url)]
    if base_url:
        raise ConfigError("--base-url needs SPEC", file="--base-url", hint="name the spec file")
    found = [
        ProviderTarget(host=host, spec=entry.spec, base_url=entry.base_url)
        for host, entry in _backends(project)
        if entry.spec is not None
        and entry.base_url
        and (spec is None or entry.spec.resolve() == spec.resolve())
    ]
    if found:
        return found
    where = str(project.path) if project is not None else "ivr-harness.toml"
    raise ConfigError(
        f"no base URL for {spec}" if spec is not None else "no SPEC and no --base-url given",
        file=where,
        pointer=(project.pointer if project is not None else "") + "/backends",
        hint='pass SPEC --base-url URL, or give the host a base_url in [backends."HOST"]',
    )


def open_project() -> ProjectConfig | None:
    """The project configuration here, its secrets not yet resolved."""
    return project_config(secrets=False)


def _backends(project: ProjectConfig | None) -> list[tuple[str, Any]]:
    return sorted(project.backends.items()) if project is not None else []


_EXPLICIT_AUTH = ("auth_bearer", "auth_header", "auth_query", "auth_cookie", "auth_basic")


def provider_auth(target: Any, options: dict[str, Any], project: Any) -> Any:
    """Credentials as given; else as the flows (--flows, else the project's) send them."""
    from harness.contract.auth import auth_from_flows
    from harness.contract.openapi import load_spec

    explicit = any(options[k] for k in _EXPLICIT_AUTH) or options["oauth_token_url"]
    flows = options["flows"]
    if flows is None and not explicit and project is not None and project.flows:
        flows = project.flows[0]
    if flows is None:
        return _explicit_auth(options)
    from harness.flow.loader import load_flow_set

    variables = variables_of(options["sets"], options["set_envs"], project, send=True)
    host = target.host or next((s.host for s in load_spec(target.spec).servers if s.host), "")
    routes = base_urls_of((), project)
    auth = auth_from_flows(load_flow_set(flows), host, variables=variables, routes=routes)
    if auth.oauth is not None and options["oauth_token_url"]:
        # The flows name the real token endpoint; a test run points it at a stand-in.
        moved = dataclasses.replace(auth.oauth, token_url=options["oauth_token_url"])
        auth = dataclasses.replace(auth, oauth=moved)
    return auth


def _explicit_auth(options: dict[str, Any]) -> Any:
    from harness.contract.auth import OAuthClient, ProviderAuth

    headers = parse_pairs(options["auth_header"], "--auth-header")
    if options["auth_bearer"]:
        headers["Authorization"] = f"Bearer {options['auth_bearer']}"
    basic = None
    if options["auth_basic"]:
        user, sep, password = str(options["auth_basic"]).partition(":")
        if not sep:
            raise ConfigError("--auth-basic expects USER:PASS", file="--auth-basic")
        basic = (user, password)
    oauth = None
    if options["oauth_token_url"]:
        oauth = OAuthClient(
            token_url=options["oauth_token_url"],
            client_id=options["oauth_client_id"] or "",
            secret_env=options["oauth_client_secret_env"] or "",
            scopes=tuple(options["oauth_scope"]),
        )
    return ProviderAuth(
        headers=headers,
        query=parse_pairs(options["auth_query"], "--auth-query"),
        cookies=parse_pairs(options["auth_cookie"], "--auth-cookie"),
        basic=basic,
        oauth=oauth,
    )
