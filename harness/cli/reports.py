"""`report merge`: one set of reports from the shards of a sharded suite."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.options import report_dir_option
from harness.errors import exit_code

__all__ = ["report"]


@click.group()
def report() -> None:
    """Work with reports written by earlier runs."""


@report.command("merge")
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
@report_dir_option
@click.option("--run-id", default=None, help="Name of the merged report folder.")
def merge(shards: tuple[Path, ...], report_dir: Path, run_id: str | None) -> None:
    """Merge the report folders SHARDS of `suite --shard K/N` runs into one.

    Writes results.json, events.jsonl, junit.xml and report.html under
    REPORT_DIR/<run-id>/, and exits as the whole suite would have: 0 all held,
    1 a check failed, 2 a run could not run (or a shard was interrupted).
    """
    from harness.inputs import check_run_id
    from harness.report.console import make_console, print_suite
    from harness.report.merge import merge_suites, read_suite
    from harness.report.writer import write_reports
    from harness.scenario.runner import new_run_id

    merged = merge_suites([read_suite(s) for s in shards], check_run_id(run_id or new_run_id()))
    paths = write_reports(merged, report_dir)
    console = make_console()
    print_suite(merged, console)
    console.print(
        f"verdict [bold]{merged.verdict}[/]: {len(merged.runs)} runs from {len(shards)} shards"
    )
    console.print(f"reports in {paths.directory}")
    sys.exit(exit_code(merged.verdict))
