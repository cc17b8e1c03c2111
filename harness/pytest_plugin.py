"""pytest plugin of ivr-harness, registered through the `pytest11` entry point.

`pytest scenarios/` collects every scenario file as one test item per flow set
(`happy-path[hardened]`, `happy-path[seed]`). The first scenario item to run
executes the whole collected batch concurrently, as `ivr-harness suite` does,
so the session's wall time approaches the longest scenario; every item then
reports its own verdict. Known defects of a flow set are reported as xfail; an
inconclusive run (the harness measured itself too overloaded to judge, even
after its automatic rerun) is reported as a skip that says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.scenario.model import Scenario
    from harness.scenario.runner import FlowSetRef, RunResult

_BATCH = pytest.StashKey[dict[str, "RunResult"]]()
_FLOW_SETS = pytest.StashKey[list["FlowSetRef"]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ivr-harness", "IVR integration chaos and contract harness")
    group.addoption(
        "--toxiproxy-url",
        action="store",
        default=None,
        help="drive this Toxiproxy server instead of the embedded one (also TOXIPROXY_URL)",
    )
    group.addoption(
        "--flows",
        action="append",
        default=[],
        help="flow set folder to run scenarios against (repeatable; default: bundled sets)",
    )
    group.addoption(
        "--scenario-filter",
        action="store",
        default=None,
        help="collect only scenarios whose name contains this text",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running timing or chaos test")
    config.addinivalue_line("markers", "load: load run with many concurrent callers")
    config.addinivalue_line("markers", "scenario: an ivr-harness scenario file run as a test")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and file_path.parent.name == "scenarios":
        collector: pytest.Collector = ScenarioFile.from_parent(parent, path=file_path)
        return collector
    return None


def _flow_sets(config: pytest.Config) -> list[FlowSetRef]:
    if _FLOW_SETS not in config.stash:
        from harness.flow.loader import CONTRACTS
        from harness.scenario.runner import load_flow_sets

        given = [Path(p) for p in config.getoption("--flows")]
        default = [CONTRACTS / "flows" / "hardened", CONTRACTS / "flows" / "seed"]
        config.stash[_FLOW_SETS] = load_flow_sets(given or default)
    return config.stash[_FLOW_SETS]


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from harness.scenario.model import load_scenario

        scenario = load_scenario(self.path)
        wanted = self.config.getoption("--scenario-filter")
        if wanted and wanted not in scenario.name:
            return
        for flow_set in _flow_sets(self.config):
            if scenario.applies_to(flow_set.name):
                item = ScenarioItem.from_parent(
                    self,
                    name=f"{scenario.name}[{flow_set.name}]",
                    scenario=scenario,
                    flow_set=flow_set,
                )
                item.add_marker("scenario")
                if scenario.time_scale != 1 or "slow" in scenario.tags:
                    item.add_marker("slow")
                yield item


class ScenarioFailure(Exception):
    """A scenario run whose verdict is not acceptable."""


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, flow_set: FlowSetRef, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.flow_set = flow_set

    def runtest(self) -> None:
        results = _batch(self.session)
        run = results[self.name]
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


def _describe(run: RunResult) -> str:
    if run.verdict == "error":
        return f"{run.id} could not run: {run.error}"
    lines = [f"{run.id}: {run.verdict}"]
    for check in run.failures():
        lines.append(
            f"  FAILED {check.title}\n    expected {check.expected}\n    got      {check.actual}"
        )
    if run.verdict == "unexpected_pass":
        known = set(run.scenario.known_defects.get(run.flow_set, ()))
        missing = sorted(known - {c.title for c in run.failures()})
        lines.append("  known defect no longer detected: " + "; ".join(missing))
    return "\n".join(lines)


def _batch(session: pytest.Session) -> dict[str, RunResult]:
    """Run every collected scenario item at once, the first time one is needed."""
    if _BATCH not in session.stash:
        import asyncio

        from harness.faults.client import resolve_url
        from harness.scenario.runner import run_suite

        items = [i for i in session.items if isinstance(i, ScenarioItem)]
        scenarios = list({id(i.scenario): i.scenario for i in items}.values())
        flow_sets = list({i.flow_set.name: i.flow_set for i in items}.values())
        wanted = {i.name for i in items}
        restricted = [
            _only(s, [f.name for f in flow_sets if f"{s.name}[{f.name}]" in wanted])
            for s in scenarios
        ]
        url = resolve_url(session.config.getoption("--toxiproxy-url"))
        suite = asyncio.run(run_suite(restricted, flow_sets, toxiproxy_url=url))
        session.stash[_BATCH] = {run.id: run for run in suite.runs}
    return session.stash[_BATCH]


def _only(scenario: Scenario, flow_sets: list[str]) -> Scenario:
    import dataclasses

    return dataclasses.replace(scenario, flows=tuple(flow_sets))
