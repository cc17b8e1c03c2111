"""The project configuration: a team's own flows, scenarios, backends and secrets.

Found from the working directory upward: the first folder holding an
``ivr-harness.toml`` (the whole file is the configuration) or a ``pyproject.toml``
with a ``[tool.ivr-harness]`` table wins. Validated by the bundled
``config.schema.json``; every error names the file and the JSON pointer::

    flows = ["flows"]
    scenarios = ["scenarios"]
    dead-air-ms = 8000

    [backends."api.orders.example.com"]
    spec = "openapi/orders.yaml"          # the stub is generated from it
    base_url = "http://127.0.0.1:8080"    # optional: a real upstream instead of the stub

    [secrets]
    orders_api_key = "${ORDERS_API_KEY}"  # a flow variable, read from the environment

    [lint.rules]
    IVR002 = "error"

Paths are relative to the file. Secrets are resolved when the configuration is
loaded, so an unset variable stops the run before anything starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.bundled import bundled_schema
from harness.errors import ConfigError
from harness.flow.loader import validate_against
from harness.inputs import check_numbers, parse_toml, read_text

__all__ = [
    "CONFIG_NAME",
    "BackendEntry",
    "ProjectConfig",
    "check_base_url",
    "find_config",
    "load_config",
]

CONFIG_NAME = "ivr-harness.toml"
_TOOL_POINTER = "/tool/ivr-harness"
_SECRET = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendEntry:
    """One flow host: the OpenAPI spec its stub is built from, or a real base URL."""

    host: str
    spec: Path | None = None
    base_url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectConfig:
    """A validated project configuration (paths resolved against its file)."""

    path: Path
    pointer: str = ""  # "/tool/ivr-harness" inside a pyproject.toml
    flows: tuple[Path, ...] = ()
    scenarios: tuple[Path, ...] = ()
    dead_air_ms: int | None = None
    battery: bool | None = None
    dtmf: tuple[str, ...] = ()
    backends: Mapping[str, BackendEntry] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    lint: Mapping[str, Any] | None = None

    @property
    def root(self) -> Path:
        """The folder the configuration's paths are relative to."""
        return self.path.parent


def find_config(start: Path | None = None) -> Path | None:
    """The configuration file that applies in `start` (default: the working directory)."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        own = candidate / CONFIG_NAME
        if own.is_file():
            return own
        pyproject = candidate / "pyproject.toml"
        # A pyproject.toml without our table does not stop the search: a monorepo's
        # root may hold the harness's configuration above a package's own pyproject.
        if pyproject.is_file() and "ivr-harness" in read_text(pyproject, what="pyproject"):
            text = read_text(pyproject, what="pyproject")
            document = parse_toml(text, file=pyproject, interop_numbers=False)
            if isinstance(document.get("tool"), dict) and "ivr-harness" in document["tool"]:
                return pyproject
    return None


def load_config(
    path: Path, *, environ: Mapping[str, str] | None = None, resolve_secrets: bool = True
) -> ProjectConfig:
    """Read, validate and resolve one configuration file.

    `resolve_secrets=False` is for commands that never send a request (lint, budget):
    the references are still checked for form, but the variables need not be set.
    """
    # Only our table's numbers are ours to check in a pyproject.toml.
    own = path.name != "pyproject.toml"
    document = parse_toml(read_text(path, what="configuration"), file=path, interop_numbers=own)
    pointer = ""
    if path.name == "pyproject.toml":
        document = document.get("tool", {}).get("ivr-harness", {})
        pointer = _TOOL_POINTER
    if not isinstance(document, dict):
        raise ConfigError("expected a table", file=path, pointer=pointer)
    _check_secret_forms(document.get("secrets"), path, pointer)
    try:
        check_numbers(document, path)
        validate_against(bundled_schema("config.schema.json"), document, file=path)
    except ConfigError as exc:
        raise ConfigError(
            exc.detail, file=path, pointer=pointer + exc.pointer, hint=exc.hint
        ) from None
    root = path.parent
    return ProjectConfig(
        path=path,
        pointer=pointer,
        flows=tuple(root / p for p in document.get("flows", ())),
        scenarios=tuple(root / p for p in document.get("scenarios", ())),
        dead_air_ms=document.get("dead-air-ms"),
        battery=document.get("battery"),
        dtmf=tuple(document.get("dtmf", ())),
        backends={
            host: BackendEntry(
                host=host,
                spec=root / raw["spec"] if "spec" in raw else None,
                base_url=check_base_url(
                    raw.get("base_url"), file=path, pointer=f"{pointer}/backends/{host}/base_url"
                ),
            )
            for host, raw in document.get("backends", {}).items()
        },
        secrets=(
            _resolve_secrets(document.get("secrets", {}), path, pointer, environ)
            if resolve_secrets
            else {}
        ),
        lint=document.get("lint"),
    )


def check_base_url(url: str | None, *, file: Path | str, pointer: str = "") -> str | None:
    """``url`` if it is an http(s) URL with a host and a port a socket can use; else a
    ConfigError (a port past 65535 would surface as an OverflowError mid-run)."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(
            f"not a usable base URL {url!r}: {exc}", file=file, pointer=pointer, hint=_URL_HINT
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise ConfigError(
            f"not a usable base URL {url!r}: it needs http(s)://, a host and a port from 1",
            file=file,
            pointer=pointer,
            hint=_URL_HINT,
        )
    return url


_URL_HINT = "e.g. http://127.0.0.1:8080"


def _check_secret_forms(secrets: Any, path: Path, pointer: str) -> None:
    # Checked before the schema so a pasted literal gets the specific fix, not a regex.
    if not isinstance(secrets, dict):
        return
    for name, value in secrets.items():
        if not isinstance(value, str) or not _SECRET.fullmatch(value):
            raise ConfigError(
                f"secret '{name}' must be an environment reference, not a literal value",
                file=path,
                pointer=f"{pointer}/secrets/{name}",
                hint='write it as "${ENV_VAR}" and export ENV_VAR',
            )


def _resolve_secrets(
    secrets: Mapping[str, str], path: Path, pointer: str, environ: Mapping[str, str] | None
) -> dict[str, str]:
    env = os.environ if environ is None else environ
    resolved: dict[str, str] = {}
    for name, reference in secrets.items():
        match = _SECRET.fullmatch(reference)
        variable = match.group(1) if match else reference
        if variable not in env:
            raise ConfigError(
                f"secret '{name}' needs environment variable {variable}, which is not set",
                file=path,
                pointer=f"{pointer}/secrets/{name}",
                hint=f"export {variable}=...",
            )
        resolved[name] = env[variable]
    return resolved
