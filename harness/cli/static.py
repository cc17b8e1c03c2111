"""Static checks: `lint` and `budget`.

Exit codes: 0 nothing at error level (lint) / every path within budget (budget);
1 error-level findings / a path over budget; 2 bad input (one line on stderr).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.options import project_config
from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.config import ProjectConfig
    from harness.flow.lint import LintConfig

__all__ = ["budget", "lint"]

DEFAULT_DEAD_AIR_MS = 8000
_CONFIG_NAMES = (".ivr-harness.toml",)


def lint_config_path(explicit: Path | None, flows: Path) -> Path | None:
    """The lint config given, else `.ivr-harness.toml` beside the flows or here, else none."""
    if explicit is not None:
        return explicit
    for folder in (flows if flows.is_dir() else flows.parent, Path.cwd()):
        for name in _CONFIG_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def load_lint_config(
    explicit: Path | None, flows: Path, project: ProjectConfig | None = None
) -> LintConfig:
    """`--lint-config`, else a `.ivr-harness.toml` nearby, else the project's `[lint]`."""
    from harness.flow.lint import LintConfig

    path = lint_config_path(explicit, flows)
    if path is not None:
        return LintConfig.load(path)
    if project is not None and project.lint is not None:
        return LintConfig.from_table(project.lint, project.path, project.pointer + "/lint")
    return LintConfig()


def flows_argument(flows: Path | None, project: ProjectConfig | None) -> Path:
    """FLOWS as given, else the project's first flow folder; a usage error without either."""
    if flows is not None:
        return flows
    if project is not None and project.flows:
        return project.flows[0]
    raise ConfigError(
        "no flows given", file="FLOWS", hint="pass a flow folder, or set flows in ivr-harness.toml"
    )


@click.command()
@click.argument("flows", type=click.Path(path_type=Path), required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write here instead of stdout.",
)
@click.option("--lint-config", type=click.Path(path_type=Path), help="TOML or JSON lint config.")
@click.option(
    "--dead-air-ms",
    type=click.IntRange(min=1),
    default=None,
    help=f"Dead-air budget in ms (default {DEFAULT_DEAD_AIR_MS}).",
)
def lint(
    flows: Path | None,
    fmt: str,
    output: Path | None,
    lint_config: Path | None,
    dead_air_ms: int | None,
) -> None:
    """Lint the flow set FLOWS (a folder of flow files, or one file; default: the project's)."""
    from harness.flow.lint import format_json, format_text, lint_flow_set
    from harness.flow.loader import load_flow_set
    from harness.report.files import atomic_write
    from harness.report.sarif import format_sarif

    project = project_config(secrets=False)
    flows = flows_argument(flows, project)
    config = load_lint_config(lint_config, flows, project)
    flow_set = load_flow_set(flows)
    project_ms = project.dead_air_ms if project else None
    budget_ms = dead_air_ms or config.dead_air_ms or project_ms or DEFAULT_DEAD_AIR_MS
    findings = lint_flow_set(flow_set, config=config, dead_air_budget_ms=budget_ms)
    base = Path.cwd()
    if fmt == "sarif":
        text = format_sarif(findings, base)
    elif fmt == "json":
        text = format_json(findings)
    else:
        text = format_text(findings, base)
    if output is None:
        click.echo(text)
    else:
        atomic_write(output, text + "\n")
    raise SystemExit(1 if any(f.severity == "error" for f in findings) else 0)


@click.command()
@click.argument("flows", type=click.Path(path_type=Path), required=False)
@click.option(
    "--dead-air-ms",
    type=click.IntRange(min=1),
    default=None,
    help=f"Dead-air budget in ms (default: the project's, else {DEFAULT_DEAD_AIR_MS}).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def budget(flows: Path | None, dead_air_ms: int | None, fmt: str) -> None:
    """Worst-case time and dead air of every path of the flow set FLOWS (default: the project's)."""
    from harness.flow.budget import flow_budget, format_budget_text
    from harness.flow.loader import load_flow_set

    project = project_config(secrets=False)
    flows = flows_argument(flows, project)
    dead_air_ms = dead_air_ms or (project.dead_air_ms if project else None) or DEFAULT_DEAD_AIR_MS
    flow_set = load_flow_set(flows)
    reports = [
        flow_budget(flow_set, f.id, dead_air_budget_ms=dead_air_ms) for f in flow_set.entry_flows()
    ]
    if fmt == "json":
        document = {"version": 1, "budget_ms": dead_air_ms, "flows": [r.to_json() for r in reports]}
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(format_budget_text(reports))
    raise SystemExit(1 if any(r.over_budget for r in reports) else 0)
