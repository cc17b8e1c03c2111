"""`init`: start a team's repository on the harness.

Finds the flow files and OpenAPI specs under DIR, then writes an `ivr-harness.toml`
(flow folders, one backend per host the flows call, secrets as environment
references for the flows' secret-looking variables), a GitHub Actions workflow and
a first scenario. It never overwrites: if any of the three exists, nothing is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from harness.errors import ConfigError

__all__ = ["init"]

_SKIP = frozenset({".git", ".venv", "venv", "node_modules", "reports", "__pycache__", ".tox"})
_MAX_DEPTH = 4
_WORKFLOW = ".github/workflows/ivr-harness.yml"


@click.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
def init(directory: Path) -> None:
    """Write ivr-harness.toml, a CI workflow and a first scenario for the flows under DIRECTORY."""
    flow_dirs = _find(directory, _is_flow)
    if not flow_dirs:
        raise ConfigError(
            "no flow files found", file=directory, hint="flows are JSON with 'flowType' and 'steps'"
        )
    specs = {host: path for path in _find_files(directory, _is_spec) if (host := _spec_host(path))}
    hosts, secrets, entry = _survey(flow_dirs)
    first_dir = sorted(flow_dirs)[0]
    scenario = directory / "scenarios" / f"{entry}-happy-path.yaml"
    outputs = {
        directory / "ivr-harness.toml": _config(directory, flow_dirs, hosts, specs, secrets),
        directory / _WORKFLOW: _workflow(secrets),
        scenario: _scenario(entry, first_dir.name),
    }
    # A symlink counts as there even when it dangles: writing through it would create (or
    # overwrite) a file wherever it points.
    existing = [path for path in outputs if path.exists() or path.is_symlink()]
    if existing:
        raise ConfigError("already exists", file=existing[0], hint="init never overwrites a file")
    for path, text in outputs.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as fh:  # O_EXCL: never through a symlink
                fh.write(text)
        except OSError as exc:
            raise ConfigError(f"cannot write: {exc.strerror or exc}", file=path) from None
        click.echo(f"wrote {path}")
    missing = sorted(set(hosts) - set(specs))
    if missing:
        click.echo(f"add an OpenAPI spec for {', '.join(missing)} in ivr-harness.toml")


def _find(root: Path, wanted: Any) -> list[Path]:
    return sorted({path.parent for path in _find_files(root, wanted)})


def _find_files(root: Path, wanted: Any) -> list[Path]:
    found: list[Path] = []
    todo = [(root, 0)]
    while todo:
        folder, depth = todo.pop()
        for path in sorted(folder.iterdir()):
            if path.is_dir() and depth < _MAX_DEPTH and path.name not in _SKIP:
                todo.append((path, depth + 1))
            elif path.is_file() and wanted(path):
                found.append(path)
    return found


def _document(path: Path) -> Any:
    from harness.inputs import parse_json, parse_yaml, read_text

    # Files that are not ours (package.json, a broken fixture) are skipped, not errors.
    try:
        text = read_text(path, max_bytes=4 * 1024 * 1024)
        return (
            parse_json(text, file=path) if path.suffix == ".json" else parse_yaml(text, file=path)
        )
    except ConfigError:
        return None


def _is_flow(path: Path) -> bool:
    if path.suffix != ".json":
        return False
    document = _document(path)
    return isinstance(document, dict) and "flowType" in document and "steps" in document


def _is_spec(path: Path) -> bool:
    if path.suffix not in (".yaml", ".yml", ".json"):
        return False
    document = _document(path)
    return isinstance(document, dict) and "openapi" in document and "paths" in document


def _spec_host(path: Path) -> str:
    servers = _document(path).get("servers") or [{}]
    return urlsplit(str(servers[0].get("url", ""))).hostname or ""


def _survey(flow_dirs: list[Path]) -> tuple[list[str], list[str], str]:
    """Hosts the flows call, secret-looking variables, and the first entry flow's id."""
    from harness.events import looks_secret
    from harness.flow.loader import load_flow_set

    hosts: set[str] = set()
    secrets: set[str] = set()
    entry = ""
    for folder in sorted(flow_dirs):
        flows = load_flow_set(folder)
        entry = entry or next((f.id for f in flows.entry_flows()), "")
        for flow in flows:
            secrets.update(name for name in flow.variables if looks_secret(name))
            for step in flow.http_steps():
                hosts.add(urlsplit(str(step.config.get("url", ""))).hostname or "")
    return sorted(h for h in hosts if h and "{" not in h), sorted(secrets), entry


def _config(
    root: Path, flow_dirs: list[Path], hosts: list[str], specs: dict[str, Path], secrets: list[str]
) -> str:
    lines = [
        "# ivr-harness project configuration (docs/your-own-ivr.md)",
        f"flows = {json.dumps([d.relative_to(root).as_posix() for d in sorted(flow_dirs)])}",
        'scenarios = ["scenarios"]',
        "dead-air-ms = 8000",
        "",
    ]
    for host in hosts:
        prefix = "" if host in specs else "# "
        spec = specs[host].relative_to(root).as_posix() if host in specs else "openapi/TODO.yaml"
        lines += [f'{prefix}[backends."{host}"]', f'{prefix}spec = "{spec}"']
        lines += [f'# base_url = "http://127.0.0.1:8080"  # a real {host} instead of the stub', ""]
    if secrets:
        lines.append("[secrets]")
        lines += [f'{name} = "${{{name.upper()}}}"' for name in secrets]
    return "\n".join(lines) + "\n"


def _workflow(secrets: list[str]) -> str:
    env = "".join(f"\n      {s.upper()}: ${{{{ secrets.{s.upper()} }}}}" for s in secrets)
    return f"""\
name: ivr-harness
on:
  push:
  pull_request:
  schedule:
    - cron: "17 2 * * *"   # the nightly resilience suite
jobs:
  resilience:
    runs-on: ubuntu-latest
    env:{env or " {}"}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install ivr-harness
      - run: ivr-harness lint
      - run: ivr-harness suite
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: ivr-harness-reports
          path: reports/
"""


def _scenario(entry: str, flow_set: str) -> str:
    return f"""\
name: {entry}-happy-path
description: One caller, no faults; the call stays inside the dead-air budget.
entry: {entry}
flows: [{flow_set}]
callers: {{count: 1}}
expect:
  - dead_air_max_ms: 8000
    title: a healthy call stays inside the dead-air budget
"""
