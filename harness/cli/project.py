"""What `suite`, `chaos` and `load` take from the project configuration.

Flags override the configuration; the configuration overrides the bundled
demo. Without a configuration nothing changes: the bundled flows and
scenarios run as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.options import probe_backends, project_backends, project_config
from harness.errors import ConfigError, HarnessError

if TYPE_CHECKING:
    from harness.config import BackendEntry, ProjectConfig
    from harness.scenario.model import Scenario
    from harness.scenario.runner import FlowSetRef

__all__ = ["Project", "open_project"]

DEFAULT_DEAD_AIR_MS = 8000


@dataclass(kw_only=True)
class Project:
    """The configuration in force for one command, flags applied."""

    config: ProjectConfig | None
    hosts: dict[str, BackendEntry] = field(default_factory=dict)
    # The battery's HTTP steps it could not test (no caller input reaches them), and why.
    notes: list[str] = field(default_factory=list)

    @property
    def secrets(self) -> dict[str, str]:
        return dict(self.config.secrets) if self.config is not None else {}

    def flow_dirs(self, given: Sequence[Path]) -> list[Path]:
        """`--flows` as given, else the project's flow folders (empty: the bundled sets)."""
        if given:
            return list(given)
        return list(self.config.flows) if self.config is not None else []

    def flow_sets(self, given: Sequence[Path]) -> list[FlowSetRef]:
        """The flow sets to run: `--flows`, else the project's, else the bundled demo's."""
        from harness.bundled import example_flow_dirs
        from harness.scenario.runner import load_flow_sets

        return load_flow_sets(self.flow_dirs(given) or example_flow_dirs())

    def scenario_paths(self, given: Sequence[Path]) -> list[Path]:
        """PATHS as given, else the project's scenario folders that exist."""
        if given or self.config is None:
            return list(given)
        return [p for p in self.config.scenarios if p.exists()]

    def battery_on(self, flag: bool | None) -> bool:
        """`--battery/--no-battery`, else the configuration's, else on when backends exist."""
        if flag is not None:
            return flag
        if self.config is not None and self.config.battery is not None:
            return self.config.battery
        return bool(self.hosts)

    def attach(self, scenario: Scenario) -> Scenario:
        """The scenario with the project's backends and secrets."""
        if not self.hosts and not self.secrets:
            return scenario
        return dataclasses.replace(scenario, hosts=self.hosts, secrets=self.secrets)

    def load(
        self, paths: Sequence[Path], errors: list[HarnessError] | None = None
    ) -> list[Scenario]:
        """Scenario files, their fault targets checked against the project's hosts too."""
        from harness.scenario.model import load_scenarios

        loaded = load_scenarios(list(paths), hosts=list(self.hosts), errors=errors)
        return [self.attach(s) for s in loaded]

    def load_one(self, path: Path) -> Scenario:
        from harness.scenario.model import load_scenario

        return self.attach(load_scenario(path, hosts=list(self.hosts)))

    def battery(self, flow_sets: Sequence[FlowSetRef]) -> list[Scenario]:
        """The fault battery of every flow set, for the hosts the project serves; a step no
        caller input reaches is a note (kept in `notes`, printed on stderr)."""
        from harness.cli.app import run_async
        from harness.scenario.battery import BatteryOptions, battery_for

        if not self.hosts:
            raise ConfigError(
                "the battery needs the project's backends",
                file=self.config.path if self.config else "ivr-harness.toml",
                pointer=(self.config.pointer if self.config else "") + "/backends",
                hint='add [backends."HOST"] spec = "openapi.yaml" for each host the flows call',
            )
        config = self.config
        options = BatteryOptions(
            hosts=self.hosts,
            secrets=self.secrets,
            dead_air_ms=(config.dead_air_ms if config else None) or DEFAULT_DEAD_AIR_MS,
            dtmf=config.dtmf if config else (),
        )
        found = run_async(battery_for([(f.name, f.flows) for f in flow_sets], options))
        for note in found.notes:
            click.echo(f"note: {note}", err=True)
        self.notes += found.notes
        return found.scenarios

    def probe(self) -> None:
        """Every real upstream answers, or exit 2 before anything runs."""
        probe_backends(self.hosts)


def open_project(base_urls: Sequence[str] = ()) -> Project:
    """The project configuration that applies here, with `--base-url` applied."""
    config = project_config()
    return Project(config=config, hosts=project_backends(config, base_urls))
