"""`init`: start a team's repository on the harness.

Finds the flow files and OpenAPI specs under DIR, then writes an `ivr-harness.toml`
(flow folders, one backend per host the flows call, secrets as environment
references for the flows' secret-looking variables), a GitHub Actions workflow and
a first scenario. It never overwrites: if any of the three exists, nothing is written.

It asks nothing it can find out. The flow folders are the folders that hold flows,
except copies under tests, docs or examples when real ones exist elsewhere. The first
scenario is a healthy call down the flow's longest road: the caller's keys are found
the way the battery finds them (`harness.scenario.reach`, against stubs of the specs),
and it expects the call to run every HTTP step on that road and end where it ended.
Last, it says which environment variables the secrets need.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from harness.cli.platform import deploy_job
from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.scenario.reach import Reach

__all__ = ["init"]

_SKIP = frozenset({".git", ".venv", "venv", "node_modules", "reports", "__pycache__", ".tox"})
_MAX_DEPTH = 4
_WORKFLOW = ".github/workflows/ivr-harness.yml"


@click.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
def init(directory: Path) -> None:
    """Write ivr-harness.toml, a CI workflow and a first scenario for the flows under DIRECTORY."""
    flow_dirs = _flow_folders(directory)
    if not flow_dirs:
        raise ConfigError(
            "no flow files found", file=directory, hint="flows are JSON with 'flowType' and 'steps'"
        )
    specs = {host: path for path in _find_files(directory, _is_spec) if (host := _spec_host(path))}
    hosts, secrets, entry, entry_dir = _survey(flow_dirs)
    scenario = directory / "scenarios" / f"{entry}-happy-path.yaml"
    pinned = entry_dir.name if len(flow_dirs) > 1 else None
    road = _longest_road(entry_dir, entry, {h: specs[h] for h in hosts if h in specs}, secrets)
    outputs = {
        directory / "ivr-harness.toml": _config(directory, flow_dirs, hosts, specs, secrets),
        directory / _WORKFLOW: _workflow(secrets)
        + deploy_job([d.relative_to(directory).as_posix() for d in sorted(flow_dirs)]),
        scenario: _scenario(entry, pinned, road),
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
    if secrets:
        names = ", ".join(f"{name.upper()} (the flows' {name})" for name in secrets)
        click.echo(f"set {names} in the environment before `ivr-harness suite` (and in CI)")


def _find(root: Path, wanted: Any) -> list[Path]:
    return sorted({path.parent for path in _find_files(root, wanted)})


_ASIDE = frozenset({"test", "tests", "doc", "docs", "example", "examples", "fixtures", "samples"})


def _flow_folders(root: Path) -> list[Path]:
    """Folders that hold flows; copies under tests, docs or examples only when no other
    folder does (they are fixtures and documentation, not what the team deploys)."""
    found = _find(root, _is_flow)
    real = [d for d in found if not _ASIDE & {p.lower() for p in d.relative_to(root).parts}]
    return real or found


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


def _survey(flow_dirs: list[Path]) -> tuple[list[str], list[str], str, Path]:
    """Hosts the flows call, secret-looking variables, the first entry flow's id and its
    folder."""
    from harness.events import looks_secret
    from harness.flow.loader import load_flow_set

    hosts: set[str] = set()
    secrets: set[str] = set()
    entry, entry_dir = "", sorted(flow_dirs)[0]
    for folder in sorted(flow_dirs):
        flows = load_flow_set(folder)
        first = next((f.id for f in flows.entry_flows()), "")
        if first and not entry:
            entry, entry_dir = first, folder
        for flow in flows:
            secrets.update(name for name in flow.variables if looks_secret(name))
            for step in flow.http_steps():
                hosts.add(urlsplit(str(step.config.get("url", ""))).hostname or "")
    return sorted(h for h in hosts if h and "{" not in h), sorted(secrets), entry, entry_dir


def _longest_road(
    folder: Path, entry: str, specs: dict[str, Path], secrets: list[str]
) -> Reach | None:
    """The healthy call that runs the most HTTP steps, and the keys its caller presses."""
    from harness.cli.app import run_async
    from harness.config import BackendEntry
    from harness.flow.loader import load_flow_set
    from harness.scenario.reach import reach_steps

    flows = load_flow_set(folder)
    targets = [f"{f.id}/{s.id}" for f in flows for s in f.http_steps()]
    if not entry or not targets or not specs:
        return None
    hosts = {host: BackendEntry(host=host, spec=path) for host, path in specs.items()}
    # Any value will do: a stub checks that a credential is there, not what it is.
    variables = {name: f"init-{name}" for name in secrets}
    found = run_async(reach_steps(flows, entry, targets, hosts=hosts, variables=variables))
    reached = [r for r in found.values() if r.dtmf is not None]
    return max(reached, key=lambda r: (len(r.http_steps), -len(r.dtmf or ())), default=None)


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


def _scenario(entry: str, flow_set: str | None, road: Reach | None) -> str:
    pinned = f"flows: [{json.dumps(flow_set)}]\n" if flow_set else ""
    if road is None or road.dtmf is None:
        return f"""\
name: {entry}-happy-path
description: One caller, no faults; the call stays inside the dead-air budget.
entry: {entry}
{pinned}callers: {{count: 1}}
expect:
  - dead_air_max_ms: 8000
    title: a healthy call stays inside the dead-air budget
"""
    keys = json.dumps(list(road.dtmf))
    visits = "".join(
        f"  - visits: {json.dumps(ref.rpartition('/')[2])}\n"
        f"    title: a healthy call runs {json.dumps(ref.rpartition('/')[2])[1:-1]}\n"
        for ref in road.http_steps
    )
    return f"""\
name: {entry}-happy-path
description: >-
  One caller, no faults, down the flow's longest road (the keys were found by
  `ivr-harness init` from the flow's own guards): every HTTP step on it runs and the
  call ends as it should.
entry: {entry}
{pinned}callers: {{count: 1, dtmf: {keys}}}
expect:
{visits}  - outcome: {json.dumps(road.outcome)}
    title: a healthy call ends in {json.dumps(road.outcome)[1:-1]}
  - dead_air_max_ms: 8000
    title: a healthy call stays inside the dead-air budget
"""
