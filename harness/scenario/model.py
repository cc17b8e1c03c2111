"""Scenario files: YAML, validated by `contracts/schemas/scenario.schema.json`.

A scenario says which flow, which callers, which faults when, and what must
hold. The loader turns a file into a :class:`Scenario` or raises a
:class:`~harness.errors.ConfigError` naming the file, the JSON pointer and the fix.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.bundled import bundled_schema
from harness.config import BackendEntry
from harness.errors import ConfigError, HarnessError
from harness.flow.loader import validate_against
from harness.inputs import parse_yaml, read_text
from harness.scenario.references import check_references

__all__ = ["Callers", "Fault", "Scenario", "load_scenario", "load_scenarios", "scenario_schema"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Callers:
    count: int = 1
    concurrency: int = 1
    spacing_ms: int = 0
    max_queue_ms: int | None = None
    ani: str = "+14155552671"
    dtmf: tuple[str, ...] = ("4155552671#",)
    per_caller: tuple[Mapping[str, Any], ...] = ()
    draw: Mapping[str, Any] | None = None
    waves: tuple[Mapping[str, Any], ...] = ()  # callers anchored on events: scenario/arrivals.py


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One fault and when it applies; `kind` is toxic | http | dns | disable."""

    kind: str
    spec: Mapping[str, Any]
    target: str = ""
    step: str = ""  # aimed at this HTTP step's requests only (a step id, or FLOW/STEP)
    title: str = ""
    after_calls: int | None = None
    at_ms: int | None = None
    for_ms: int | None = None
    until_calls: int | None = None
    pointer: str = ""

    @property
    def immediate(self) -> bool:
        return not self.after_calls and not self.at_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    path: Path | None
    description: str = ""
    entry: str = "customer-lookup-ivr"
    flows: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    time_scale: float = 1.0
    audio: str = "instant"
    variables: Mapping[str, Any] = field(default_factory=dict)
    callers: Callers = field(default_factory=Callers)
    backends: Mapping[str, str] = field(default_factory=dict)
    faults: tuple[Fault, ...] = ()
    expect: tuple[Mapping[str, Any], ...] = ()
    known_defects: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The project's own backends by flow host (stubs or proxied upstreams) and the
    # secrets its flows read; set from the project configuration, never from the file.
    hosts: Mapping[str, BackendEntry] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)

    def applies_to(self, flow_set_name: str) -> bool:
        return not self.flows or flow_set_name in self.flows


def scenario_schema() -> Mapping[str, Any]:
    """The bundled `contracts/schemas/scenario.schema.json`."""
    return bundled_schema("scenario.schema.json")


def load_scenario(path: Path, *, hosts: Collection[str] = ()) -> Scenario:
    """Read and validate one scenario file; `hosts` are the project's own backend hosts,
    which fault targets may name besides the reference backends."""
    document = parse_yaml(read_text(path, what="scenario"), file=path)
    if not isinstance(document, dict):
        raise ConfigError("a scenario is a YAML mapping", file=path, hint="start with 'name:'")
    validate_against(scenario_schema(), document, file=path)
    check_references(document, scenario_schema(), path, hosts=hosts)
    return _build(document, path)


def _build(doc: Mapping[str, Any], path: Path | None) -> Scenario:
    callers = dict(doc.get("callers", {}))
    return Scenario(
        name=doc["name"],
        path=path,
        description=doc.get("description", ""),
        entry=doc.get("entry", "customer-lookup-ivr"),
        flows=tuple(doc.get("flows", ())),
        tags=tuple(doc.get("tags", ())),
        time_scale=float(doc.get("time_scale", 1.0)),
        audio=doc.get("audio", "instant"),
        variables=dict(doc.get("variables", {})),
        callers=Callers(
            count=callers.get("count", 1),
            concurrency=callers.get("concurrency", 1),
            spacing_ms=callers.get("spacing_ms", 0),
            max_queue_ms=callers.get("max_queue_ms"),
            ani=callers.get("ani", "+14155552671"),
            dtmf=tuple(callers.get("dtmf", ("4155552671#",))),
            per_caller=tuple(callers.get("per_caller", ())),
            draw=callers.get("draw"),
            waves=tuple(callers.get("waves", ())),
        ),
        backends=dict(doc.get("backends", {})),
        faults=tuple(_fault(f, i) for i, f in enumerate(doc.get("faults", ()))),
        expect=tuple(doc["expect"]),
        known_defects={k: tuple(v) for k, v in doc.get("known_defects", {}).items()},
    )


def _fault(raw: Mapping[str, Any], index: int) -> Fault:
    kind = next(k for k in ("toxic", "http", "dns", "disable") if k in raw)
    when = raw.get("when", {})
    return Fault(
        kind=kind,
        spec=raw[kind] if kind != "disable" else {"enabled": not raw["disable"]},
        target=raw.get("target", ""),
        step=raw.get("step", ""),
        title=raw.get("title", ""),
        after_calls=when.get("after_calls"),
        at_ms=when.get("at_ms"),
        for_ms=when.get("for_ms"),
        until_calls=when.get("until_calls"),
        pointer=f"/faults/{index}",
    )


def load_scenarios(
    paths: list[Path],
    *,
    hosts: Collection[str] = (),
    errors: list[HarnessError] | None = None,
) -> list[Scenario]:
    """Every `*.yaml` / `*.yml` under the given files and folders, sorted by name.

    With `errors`, a scenario file that does not load is added there and the others
    still load (a suite runs them and reports the broken one); without, it raises.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        elif path.exists():
            files.append(path)
        else:
            raise ConfigError("no such scenario file or folder", file=path)
    scenarios = []
    for file in files:
        try:
            scenarios.append(load_scenario(file, hosts=hosts))
        except HarnessError as exc:
            if errors is None:
                raise
            errors.append(exc)
    seen: dict[str, Path | None] = {}
    for sc in scenarios:
        if sc.name in seen:
            raise ConfigError(
                f"scenario name '{sc.name}' is also used by {seen[sc.name]}",
                file=sc.path,
                pointer="/name",
                hint="scenario names must be unique",
            )
        seen[sc.name] = sc.path
    return scenarios
