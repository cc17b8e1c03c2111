"""`report merge`: one set of reports from the shards of a sharded suite."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.options import report_dir_option
from harness.errors import exit_code

if TYPE_CHECKING:
    from harness.report.results import Shard

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
    1 a check failed, 2 a run could not run (or a shard was interrupted). SHARDS must be
    every shard 1..N of one suite, each once: a missing shard, or shards of another
    suite or another N, is refused (exit 2).
    """
    from harness.inputs import check_run_id
    from harness.report.console import make_console, print_suite
    from harness.report.merge import check_shards, merge_suites, read_shard, read_suite
    from harness.report.stream import check_report_dir
    from harness.report.writer import write_reports
    from harness.scenario.runner import new_run_id

    suites = [read_suite(s) for s in shards]  # a folder without results.json: exit 2 here
    identities = [read_shard(s) for s in shards]
    check_shards(list(zip(shards, identities, strict=True)))
    whole = identities[0].suite_runs if identities[0] is not None else None
    merged = merge_suites(suites, check_run_id(run_id or new_run_id()), whole)
    check_report_dir(report_dir, merged.run_id)  # never over an earlier report
    paths = write_reports(merged, report_dir, shard=_whole(identities))
    console = make_console()
    print_suite(merged, console)
    console.print(
        f"verdict [bold]{merged.verdict}[/]: {len(merged.runs)} runs from {len(shards)} shards"
    )
    console.print(f"reports in {paths.directory}")
    sys.exit(exit_code(merged.verdict))


def _whole(identities: list[Shard | None]) -> Shard | None:
    """The merged report is the whole suite: shard 1 of 1 of the same fingerprint."""
    from harness.report.results import Shard

    first = identities[0] if identities else None
    if first is None:
        return None
    return Shard(index=1, count=1, suite=first.suite, suite_runs=first.suite_runs)
