"""pytest plugin of ivr-harness, registered through the `pytest11` entry point.

Opt-in: it collects nothing until a project names its scenario folders, with the
ini key ``ivr_scenarios`` (``[tool.pytest.ini_options] ivr_scenarios = ["scenarios"]``),
``--ivr-scenarios PATH``, or the ``scenarios`` of the project's ``ivr-harness.toml``
(or ``[tool.ivr-harness]``), whose flows, backends and secrets then apply as they do
for ``ivr-harness suite``. Then every YAML file directly in those folders is a
scenario, collected as one test item per flow set (``happy-path[hardened]``,
``happy-path[seed]``) that runs its scenario inside the item, so ``--timeout``,
``--durations``, ``-x``, ``--lf`` and ``-k`` mean what they always mean. Scenarios
run concurrently through pytest-xdist (``pytest -n auto``), each worker with its own
embedded Toxiproxy, ports and per-run proxy names. Known defects of a flow set are
reported as xfail; an inconclusive run (the harness measured itself too overloaded to
judge, even after its automatic rerun) is a skip that says so; a malformed scenario
is one collection error line.

When the project configures backends (and `battery` is not off), the fault battery
derived from the flows is collected beside the first scenario folder, one item per
battery run (``battery-clinic-booking-http-book-timeout[flows]``, so ``-k battery`` or
``-k http-book`` select), and a step no caller input reaches is a skipped item naming
the guard in the way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.cli.project import Project
    from harness.scenario.model import Scenario
    from harness.scenario.runner import FlowSetRef, RunResult

_FLOW_SETS = pytest.StashKey[list["FlowSetRef"]]()
_FOLDERS = pytest.StashKey[set[Path]]()
_PROJECT = pytest.StashKey["Project"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ivr-harness", "IVR integration chaos and contract harness")
    group.addoption(
        "--ivr-scenarios",
        action="append",
        default=[],
        metavar="PATH",
        help="collect the scenario files in this folder (repeatable; ini: ivr_scenarios)",
    )
    group.addoption(
        "--flows",
        action="append",
        default=[],
        help="flow set folder to run scenarios against (repeatable; ini: ivr_flows; "
        "default: the bundled sets)",
    )
    group.addoption(
        "--toxiproxy-url",
        action="store",
        default=None,
        help="drive this Toxiproxy server instead of the embedded one "
        "(ini: ivr_toxiproxy_url; also TOXIPROXY_URL)",
    )
    group.addoption(
        "--scenario-filter",
        action="store",
        default=None,
        help="collect only scenarios whose name contains this text",
    )
    parser.addini("ivr_scenarios", "scenario folders to collect (opt-in)", type="paths")
    parser.addini("ivr_flows", "flow set folders to run scenarios against", type="paths")
    parser.addini("ivr_toxiproxy_url", "Toxiproxy server to drive", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running timing or chaos test")
    config.addinivalue_line("markers", "load: load run with many concurrent callers")
    config.addinivalue_line("markers", "scenario: an ivr-harness scenario file run as a test")
    given = [Path(p) for p in config.getoption("--ivr-scenarios")]
    folders = given or list(config.getini("ivr_scenarios"))
    if not folders:
        folders = list(_project(config).scenario_paths([]))
    config.stash[_FOLDERS] = {Path(p).resolve() for p in folders}


def _project(config: pytest.Config) -> Project:
    """The project configuration in force (none: the bundled demo), read once."""
    if _PROJECT not in config.stash:
        from harness.cli.project import open_project
        from harness.errors import HarnessError

        try:
            config.stash[_PROJECT] = open_project()
        except HarnessError as exc:
            raise pytest.UsageError(f"error: {exc}") from None
    return config.stash[_PROJECT]


def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    folders = parent.config.stash[_FOLDERS]
    if folders and path.resolve() == min(folders):  # one home for the battery
        collector: pytest.Collector = ScenarioDir.from_parent(parent, path=path)
        return collector
    return None


class ScenarioDir(pytest.Directory):
    """The first scenario folder: its scenario files (directly in it, as everywhere), then
    the fault battery derived from the flows."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        for path in sorted(self.path.iterdir()):
            if not path.is_file() or self.ihook.pytest_ignore_collect(
                collection_path=path, config=self.config
            ):
                continue
            yield from self.ihook.pytest_collect_file(file_path=path, parent=self)
        project = _project(self.config)
        if project.hosts and project.battery_on(None):
            yield Battery.from_parent(self, name="battery")


class Battery(pytest.Collector):
    """One item per run of the battery (`Project.battery`), one skip per untested step."""

    def collect(self) -> Iterator[pytest.Item]:
        from harness.errors import HarnessError

        project = _project(self.config)
        flow_sets = _flow_sets(self.config)
        try:
            scenarios = project.battery(flow_sets)
        except HarnessError as exc:
            raise self.CollectError(f"error: {exc}") from None
        wanted = self.config.getoption("--scenario-filter")
        for scenario in scenarios:
            if wanted and wanted not in scenario.name:
                continue
            for flow_set in flow_sets:
                if scenario.applies_to(flow_set.name):
                    yield _item(self, scenario, flow_set)
        for index, note in enumerate(project.notes):
            yield Untested.from_parent(self, name=f"untested-{index + 1}", note=note)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, "the fault battery derived from the flows"


class Untested(pytest.Item):
    """An HTTP step the battery could not test: a skip saying why, never a silent pass."""

    def __init__(self, *, note: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.note = note

    def runtest(self) -> None:
        pytest.skip(f"battery: {self.note}")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    if file_path.parent.resolve() not in parent.config.stash[_FOLDERS]:
        return None
    collector: pytest.Collector = ScenarioFile.from_parent(parent, path=file_path)
    return collector


def _flow_sets(config: pytest.Config) -> list[FlowSetRef]:
    if _FLOW_SETS not in config.stash:
        from harness.bundled import example_flow_dirs
        from harness.scenario.runner import load_flow_sets

        given = [Path(p) for p in config.getoption("--flows")] or [
            Path(p) for p in config.getini("ivr_flows")
        ]
        dirs = _project(config).flow_dirs(given)
        config.stash[_FLOW_SETS] = load_flow_sets(dirs or example_flow_dirs())
    return config.stash[_FLOW_SETS]


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from harness.errors import HarnessError
        from harness.scenario.runner import check_step_references

        try:
            scenario = _project(self.config).load_one(self.path)
            flow_sets = _flow_sets(self.config)
            check_step_references([scenario], flow_sets)
        except HarnessError as exc:
            raise self.CollectError(f"error: {exc}") from None
        wanted = self.config.getoption("--scenario-filter")
        if wanted and wanted not in scenario.name:
            return
        for flow_set in flow_sets:
            if scenario.applies_to(flow_set.name):
                yield _item(self, scenario, flow_set)


def _item(parent: pytest.Collector, scenario: Scenario, flow_set: FlowSetRef) -> ScenarioItem:
    item = ScenarioItem.from_parent(
        parent, name=f"{scenario.name}[{flow_set.name}]", scenario=scenario, flow_set=flow_set
    )
    item.add_marker("scenario")
    if scenario.time_scale != 1 or "slow" in scenario.tags:
        item.add_marker("slow")
    return item


class ScenarioFailure(Exception):
    """A scenario run whose verdict is not acceptable."""


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, flow_set: FlowSetRef, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.flow_set = flow_set

    def runtest(self) -> None:
        run = _run(self.config, self.scenario, self.flow_set)
        if run.verdict == "expected_failure":
            titles = "; ".join(c.title for c in run.failures())
            pytest.xfail(f"known defects of {self.flow_set.name}: {titles}")
        if run.verdict == "inconclusive":
            # Not a red test (the flow is not shown wrong), never a silent pass: a skip
            # whose reason names the checks and the lag the harness measured in itself.
            unclear = "; ".join(f"{c.title}: {c.actual}" for c in run.checks if c.inconclusive)
            pytest.skip(f"INCONCLUSIVE after {len(run.reruns)} rerun(s): {unclear}")
        if run.verdict != "pass":
            raise ScenarioFailure(_describe(run))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.name}"


def _run(config: pytest.Config, scenario: Scenario, flow_set: FlowSetRef) -> RunResult:
    """This item's scenario against this item's flow set, on its own embedded Toxiproxy."""
    import dataclasses

    from harness.cli.app import run_async
    from harness.faults.client import resolve_url
    from harness.scenario.runner import run_suite

    only = dataclasses.replace(scenario, flows=(flow_set.name,))
    url = resolve_url(config.getoption("--toxiproxy-url") or config.getini("ivr_toxiproxy_url"))
    # The CLI's signal path: SIGTERM, SIGHUP and SIGQUIT, not only Ctrl-C, end the run
    # through its cleanup (its proxies removed), then stop the session.
    suite = run_async(run_suite([only], [flow_set], toxiproxy_url=url))
    return suite.runs[0]


def _describe(run: RunResult) -> str:
    if run.verdict == "error":
        return f"{run.id} could not run: {run.error}"
    lines = [f"{run.id}: {run.verdict}"]
    for check in run.failures():
        lines.append(
            f"  FAILED {check.title}\n    expected {check.expected}\n    got      {check.actual}"
        )
    if run.verdict == "unexpected_pass":
        lines.append("  known defect no longer detected: " + "; ".join(run.cleared_defects()))
    return "\n".join(lines)
