"""`mutate`: how many realistic broken versions of a flow set would the suite catch?"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.app import Interrupted, finishing, run_async
from harness.cli.options import FiniteFloat, report_dir_option, toxiproxy_url_option
from harness.errors import ConfigError, HarnessError

if TYPE_CHECKING:
    from harness.scenario.mutant_verdict import MutantResult, MutationReport
    from harness.scenario.mutation import Prepared
    from harness.scenario.original import Original
    from harness.scenario.runner import FlowSetRef

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
    help="Exit 1 when the mutation score (percent) is below this; exit 2, before any "
    "mutant runs, when the original flow set already fails a scenario.",
)
@click.option(
    "--flow", "flow_ids", multiple=True, metavar="ID", help="Only mutants of this flow id."
)
@click.option(
    "--trap",
    "traps",
    multiple=True,
    metavar="NAME",
    help="Only mutants of this trap (e.g. router-branches-swapped; docs/mutate.md lists all).",
)
@click.option(
    "--mutant", "mutant_ids", multiple=True, metavar="ID", help="Only this mutant (e.g. m031-...)."
)
@click.option(
    "--sample", "size", type=click.IntRange(min=1), default=None, help="At most N mutants."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --sample.")
@click.option(
    "--bail/--no-bail",
    default=True,
    show_default=True,
    help="Stop a mutant's runs at its first kill (--no-bail runs them all, naming every killer).",
)
@click.option(
    "--coverage/--no-coverage",
    default=True,
    show_default=True,
    help="Run on each mutant only the scenarios whose calls visited a step it changes in "
    "the original's run (--no-coverage: every scenario on every mutant).",
)
@click.option(
    "--incremental",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Reuse the verdicts kept in FILE for mutants whose flows, scenarios and harness "
    "are unchanged, then write this run's into it.",
)
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
    flow_ids: tuple[str, ...],
    traps: tuple[str, ...],
    mutant_ids: tuple[str, ...],
    size: int | None,
    seed: int,
    bail: bool,
    coverage: bool,
    incremental: Path | None,
    max_parallel: int,
    dead_air_ms: int,
    battery: bool | None,
    lint: bool,
    report_dir: Path,
    toxiproxy_url: str | None,
) -> None:
    """Break the flow set FLOWS in the ways the guide warns about, one change at a time,
    and report which mutants the scenarios and the lint catch.

    The scenarios run on the original flow set first: a check that fails or is
    inconclusive there kills no mutant (listed as "the original already fails this").
    Each mutant then runs only the scenarios whose calls reached a step it changed,
    stopping at its first kill; a run lasting past max(2x the original's, the
    original's + 5 s) is stopped and kills the mutant as a timeout.

    Each mutant is killed (named: the lint rule or the scenario check that caught it),
    timeout, survived (with the scenario that would kill it), or excluded from the
    score: inconclusive (a check missed only within the harness's measured lag),
    invalid (it does not load or run) or equivalent (diff finds no change). Reports go
    to REPORT_DIR/<run-id>/.
    """
    from harness.cli.project import open_project
    from harness.faults.client import resolve_url
    from harness.flow.loader import load_flow_set
    from harness.report.files import atomic_write
    from harness.report.mutation import (
        MutantProgress,
        print_mutation,
        print_original,
        write_mutation_reports,
    )
    from harness.report.progress import Progress
    from harness.scenario.incremental import Incremental
    from harness.scenario.mutation import (
        prepare,
        reuse_original,
        run_mutation,
        start_from_green,
    )
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
    cache = Incremental.load(incremental) if incremental is not None else None
    project.probe()
    url = resolve_url(toxiproxy_url)
    applicable = sum(s.applies_to(flows.name) for s in scenarios)
    with tempfile.TemporaryDirectory(prefix="ivr-mutants-") as tmp:
        prepared = prepare(
            flows,
            Path(tmp),
            size=size,
            seed=seed,
            dead_air_ms=dead_air_ms,
            lint=lint,
            flows=flow_ids,
            traps=traps,
            ids=mutant_ids,
            incremental=cache,
        )
        if not prepared.loaded and not prepared.invalid:
            raise ConfigError("no HTTP step or router to mutate", file=flows)
        judged: list[MutantResult] = []
        original_run: Original | None = None  # kept when a stop signal ends the mutants

        async def work() -> MutationReport:
            nonlocal original_run
            green = reuse_original(prepared, scenarios, cache)
            if green is None:
                with Progress(applicable) as progress:
                    green = await start_from_green(
                        prepared,
                        scenarios,
                        incremental=cache,
                        toxiproxy_url=url,
                        max_parallel=max_parallel,
                        on_run=progress.on_run,
                        on_call=progress.on_call,
                    )
            else:
                click.echo(f"the original's run: reused from {incremental}")
            original_run = green
            if min_score is not None and green.red():
                print_original(green)
                raise HarnessError(
                    f"the original flow set already fails {len(green.red())} scenario(s) "
                    "(listed above): a mutation score over a red suite means nothing, so "
                    "--min-score refuses; fix them or declare them known_defects"
                )
            shown = MutantProgress(len(prepared.loaded))

            def on_mutant(result: MutantResult) -> None:
                judged.append(result)
                shown.on_mutant(result)

            return await run_mutation(
                prepared,
                scenarios,
                original=green,
                toxiproxy_url=url,
                max_parallel=max_parallel,
                bail=bail,
                coverage=coverage,
                incremental=cache,
                on_mutant=on_mutant,
            )

        try:
            report = run_async(work())
        except Interrupted as exc:
            report = _finished_part(prepared, judged, applicable, original_run, exc)
            out = write_mutation_reports(report, report_dir, new_run_id())
            click.echo(f"{len(report.results)} judged mutants kept in {out}", err=True)
            raise
        finally:
            if cache is not None and incremental is not None:
                atomic_write(incremental, json.dumps(cache.to_json()) + "\n")
    with finishing():
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
    judged: list[MutantResult],
    applicable: int,
    original: Original | None,
    exc: Interrupted,
) -> MutationReport:
    """The mutants judged before the signal (and those that never loaded); the rest are
    left out, never guessed survived."""
    from harness.scenario.mutant_verdict import MutationReport

    report = MutationReport(
        flow_set=prepared.flow_set, scenarios=applicable, seed=prepared.seed, original=original
    )
    report.results = sorted([*prepared.invalid, *judged], key=lambda r: r.mutant.id)
    report.incomplete = (
        f"interrupted by {exc.signame}: {len(judged)} of "
        f"{len(prepared.loaded)} mutants judged"
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
