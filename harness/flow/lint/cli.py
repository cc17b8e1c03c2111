"""Click commands ``lint`` and ``budget``; the main ``ivr-harness`` group attaches them.

Exit codes: 0 nothing at error level (lint) / every path within budget (budget);
1 error-level findings / a path over budget; 2 bad input (one line on stderr).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from harness.cli_support import guarded
from harness.flow.budget import BudgetReport, flow_budget, format_budget_text
from harness.flow.lint.config import LintConfig
from harness.flow.lint.engine import lint_flow_set
from harness.flow.lint.formats import format_json, format_text
from harness.flow.lint.sarif import format_sarif
from harness.flow.loader import load_flow_set
from harness.flow.model import Flow, FlowSet

__all__ = ["budget_command", "lint_command"]

DEFAULT_DEAD_AIR_MS = 8000
_CONFIG_NAMES = (".ivr-harness.toml",)


def _config(explicit: Path | None, flows: Path) -> LintConfig:
    if explicit is not None:
        return LintConfig.load(explicit)
    for folder in (flows if flows.is_dir() else flows.parent, Path.cwd()):
        for name in _CONFIG_NAMES:
            if (folder / name).is_file():
                return LintConfig.load(folder / name)
    return LintConfig()


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")


@click.command("lint")
@click.argument("flows", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text")
@click.option("--output", type=click.Path(path_type=Path), help="Write here instead of stdout.")
@click.option("--lint-config", type=click.Path(path_type=Path), help="TOML or JSON lint config.")
@click.option(
    "--dead-air-ms",
    type=click.IntRange(min=1),
    default=None,
    help=f"Dead-air budget in ms (default {DEFAULT_DEAD_AIR_MS}).",
)
def lint_command(
    flows: Path, fmt: str, output: Path | None, lint_config: Path | None, dead_air_ms: int | None
) -> None:
    """Lint the flow set FLOWS (a folder of flow files, or one file)."""

    def run() -> tuple[str, bool]:
        config = _config(lint_config, flows)
        flow_set = load_flow_set(flows)
        budget = dead_air_ms or config.dead_air_ms or DEFAULT_DEAD_AIR_MS
        findings = lint_flow_set(flow_set, config=config, dead_air_budget_ms=budget)
        base = Path.cwd()
        text = {
            "text": lambda: format_text(findings, base),
            "json": lambda: format_json(findings),
            "sarif": lambda: format_sarif(findings, base),
        }[fmt]()
        return text, any(f.severity == "error" for f in findings)

    text, failed = guarded(run)
    _emit(text, output)
    raise SystemExit(1 if failed else 0)


@click.command("budget")
@click.argument("flows", type=click.Path(path_type=Path))
@click.option(
    "--dead-air-ms",
    type=click.IntRange(min=1),
    default=DEFAULT_DEAD_AIR_MS,
    show_default=True,
    help="Dead-air budget in ms.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def budget_command(flows: Path, dead_air_ms: int, fmt: str) -> None:
    """Worst-case time and dead air of every path of the flow set FLOWS."""

    def run() -> list[BudgetReport]:
        flow_set = load_flow_set(flows)
        return [
            flow_budget(flow_set, f.id, dead_air_budget_ms=dead_air_ms) for f in _entries(flow_set)
        ]

    reports = guarded(run)
    if fmt == "json":
        click.echo(
            json.dumps(
                {"version": 1, "budget_ms": dead_air_ms, "flows": [r.to_json() for r in reports]},
                indent=2,
            )
        )
    else:
        click.echo(format_budget_text(reports))
    raise SystemExit(1 if any(r.over_budget for r in reports) else 0)


def _entries(flow_set: FlowSet) -> list[Flow]:
    called = {
        target.id
        for flow in flow_set
        for step in flow.steps
        if step.type == "SubFlow" and (target := flow_set.subflow_target(flow, step)) is not None
    }
    ivr = [f for f in flow_set if f.flow_type == "IVR"]
    return list(ivr or [f for f in flow_set if f.id not in called])
