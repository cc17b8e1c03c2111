"""`mutate`: how many realistic broken versions of a flow set would the suite catch?"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.app import Interrupted, run_async
from harness.cli.options import FiniteFloat, report_dir_option, toxiproxy_url_option
from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.scenario.mutation import MutationReport, Prepared
    from harness.scenario.runner import FlowSetRef, RunResult

__all__ = ["mutate"]


@click.command()
@click.argument("flows", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--scenarios",
    "scenario_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Scenario files or folders (repeatable). Default: ./scenarios, else the bundled ones.",
)
@click.option(
    "--min-score",
    type=FiniteFloat(0, 100),
    default=None,
    help="Exit 1 when the mutation score (percent) is below this.",
)
@click.option(
    "--sample", "size", type=click.IntRange(min=1), default=None, help="At most N mutants."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --sample.")
@click.option("--max-parallel", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--dead-air-ms", type=click.IntRange(min=1), default=8000, show_default=True)
@click.option(
    "--battery/--no-battery",
    default=None,
    help="Also run the fault battery generated from FLOWS (default: on when the project "
    "configures backends).",
)
@click.option(
    "--lint/--no-lint",
    default=True,
    show_default=True,
    help="Count lint findings as kills (--no-lint judges the scenarios alone).",
)
@report_dir_option
@toxiproxy_url_option
def mutate(
    flows: Path,
    scenario_paths: tuple[Path, ...],
    min_score: float | None,
    size: int | None,
    seed: int,
    max_parallel: int,
    dead_air_ms: int,
    battery: bool | None,
    lint: bool,
    report_dir: Path,
    toxiproxy_url: str | None,
) -> None:
    """Break the flow set FLOWS in the ways the guide warns about, one change at a time,
    and report which mutants the scenarios and the lint catch.

    Each mutant is killed (named: the lint rule or the scenario check that caught it),
    survived (with the scenario that would kill it), or excluded from the score:
    inconclusive (a check missed only within the harness's measured lag), invalid (it
    does not load or run) or equivalent (diff finds no change). Reports go to
    REPORT_DIR/<run-id>/.
    """
    from harness.cli.project import open_project
    from harness.faults.client import resolve_url
    from harness.flow.loader import load_flow_set
    from harness.report.mutation import print_mutation, write_mutation_reports
    from harness.report.progress import Progress
    from harness.scenario.mutation import prepare, run_mutation
    from harness.scenario.runner import FlowSetRef, new_run_id

    project = open_project()
    local = Path("scenarios")
    paths = project.scenario_paths(scenario_paths) or ([local] if local.is_dir() else [])
    original = FlowSetRef(name=flows.name, path=flows, flows=load_flow_set(flows))
    use_battery = project.battery_on(battery)
    if not paths and not use_battery:
        paths = [_bundled_demo(original)]
    scenarios = project.load(paths)
    if use_battery:
        # The battery comes from the original flows: a mutant must not set its own bar.
        scenarios += project.battery([original])
    project.probe()
    url = resolve_url(toxiproxy_url)
    with tempfile.TemporaryDirectory(prefix="ivr-mutants-") as tmp:
        prepared = prepare(
            flows, Path(tmp), size=size, seed=seed, dead_air_ms=dead_air_ms, lint=lint
        )
        if not prepared.loaded and not prepared.invalid:
            raise ConfigError("no HTTP step or router to mutate", file=flows)
        applicable = sum(s.applies_to(flows.name) for s in scenarios)
        finished: dict[str, list[RunResult]] = {}

        def on_run(run: RunResult) -> None:
            progress.on_run(run)
            finished.setdefault(run.flow_set, []).append(run)

        with Progress(applicable * len(prepared.loaded)) as progress:
            try:
                report = run_async(
                    run_mutation(
                        prepared,
                        scenarios,
                        toxiproxy_url=url,
                        max_parallel=max_parallel,
                        on_run=on_run,
                        on_call=progress.on_call,
                    )
                )
            except Interrupted as exc:
                report = _finished_part(prepared, finished, applicable, exc)
                out = write_mutation_reports(report, report_dir, new_run_id())
                click.echo(f"{len(report.results)} judged mutants kept in {out}", err=True)
                raise
    out = write_mutation_reports(report, report_dir, new_run_id())
    print_mutation(report)
    click.echo(f"reports in {out}")
    if min_score is not None and report.score() * 100 < min_score:
        click.echo(
            f"mutation score {report.score():.0%} is below --min-score {min_score:g}%", err=True
        )
        sys.exit(1)


def _finished_part(
    prepared: Prepared,
    finished: dict[str, list[RunResult]],
    applicable: int,
    exc: Interrupted,
) -> MutationReport:
    """What the finished runs decide: mutants fully run, and mutants a finished run (or the
    lint) already killed; the rest are left out, never guessed survived."""
    from harness.scenario.mutation import judge

    report = judge(prepared, finished, scenarios=applicable)
    full = {k for k in prepared.loaded if len(finished.get(k, [])) >= applicable}
    report.results = [
        r
        for r in report.results
        if r.mutant.id not in prepared.loaded or r.mutant.id in full or r.status == "killed"
    ]
    report.incomplete = (
        f"interrupted by {exc.signame}: {len(report.results)} of "
        f"{len(prepared.loaded) + len(prepared.invalid)} mutants judged"
    )
    return report


def _bundled_demo(original: FlowSetRef) -> Path:
    """The bundled scenarios, when FLOWS is the demo they were written for; else exit 2.

    Without scenarios/, --scenarios or configured backends there is nothing of the
    project's own to run: the demo's scenarios call the demo's flows, and run against
    another flow set each would only fail with "entry flow ... is not in flow set".
    """
    from harness.bundled import SCENARIOS
    from harness.scenario.model import load_scenarios

    entries = sorted({s.entry for s in load_scenarios([SCENARIOS])})
    if all(original.flows.get(entry) is not None for entry in entries):
        return SCENARIOS
    raise ConfigError(
        "no scenarios to run against these flows: no scenarios/ folder here, no --scenarios, "
        "and no backends configured for the fault battery",
        file=original.path,
        hint="pass --scenarios DIR, or configure backends in ivr-harness.toml (see "
        "`ivr-harness init`); the bundled demo scenarios call " + ", ".join(entries),
    )
