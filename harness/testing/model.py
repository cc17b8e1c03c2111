"""A generated IVR as values: its flows, the OpenAPI specs of its backends, its project
configuration, and what the generator knows about each HTTP step."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HttpStep", "Ivr"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpStep:
    """One HTTP Request step of a generated IVR and the generator's intent for it."""

    flow_id: str
    step_id: str
    host: str
    method: str
    path: str  # the spec's path template, base path included
    kind: str  # lookup | search | count | submit | update
    router_id: str  # the Condition right after the step
    success_target: str  # where a 2xx with every mapped value present goes
    success_condition: int  # index of that branch in the router's conditions
    fallback: str  # where the router sends failures (its defaultStepId)
    null_checked: tuple[str, ...] = ()  # mapped variables the success branch checks != null
    accepted_condition: int | None = None  # the router's 202 branch (to the Wait)
    wait_id: str | None = None  # the Wait of the 202 + callback pattern
    token: Mapping[str, Any] | None = None  # cached OAuth2 token: endpoint, client vars, scopes
    features: tuple[str, ...] = ()
    dtmf: tuple[str, ...] = ()  # what a caller keys to reach the step on a healthy day

    def to_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow_id,
            "step": self.step_id,
            "host": self.host,
            "method": self.method,
            "path": self.path,
            "kind": self.kind,
            "features": list(self.features),
            "dtmf": list(self.dtmf),
        }


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Ivr:
    """A generated IVR, correct by the integration guide, with its backends' specs.

    `flows` maps a file name (`flows/<name>`) to a flow document; `specs` maps each
    host the flows call to its OpenAPI 3 document; `secrets` maps a flow variable to
    the environment variable that holds it (the configuration's `[secrets]`), and
    `environment` gives each of those a harmless value for test runs.
    """

    name: str
    theme: str
    entry: str
    flows: Mapping[str, Mapping[str, Any]]
    specs: Mapping[str, Mapping[str, Any]]
    secrets: Mapping[str, str] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)
    dead_air_ms: int = 8000
    http_steps: tuple[HttpStep, ...] = ()

    def __repr__(self) -> str:
        return f"<Ivr {self.summary()}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints a failing example with its pretty printer, field by field for
        # a dataclass; this keeps it to one line (the written-out folder has the rest).
        printer.text(repr(self))

    def spec_file(self, host: str) -> str:
        """The spec's path inside the project folder, e.g. `openapi/api.clinic-example.com.yaml`."""
        return f"openapi/{host}.yaml"

    def step(self, flow_id: str, step_id: str) -> HttpStep:
        return next(s for s in self.http_steps if (s.flow_id, s.step_id) == (flow_id, step_id))

    def caller_input(self) -> tuple[str, ...] | None:
        """One `dtmf` list that reaches every HTTP step, when one exists (no menu, no
        "press 1" with a way around it): the longest route, if every other is its prefix."""
        routes = sorted((s.dtmf for s in self.http_steps), key=len)
        longest = routes[-1] if routes else ()
        if all(longest[: len(r)] == r for r in routes):
            return longest
        return None

    def hosts(self) -> list[str]:
        return sorted(self.specs)

    def summary(self) -> str:
        """One line: theme, size, and the shape of every HTTP step."""
        shapes = ", ".join(
            f"{s.method} {s.kind}" + (f" [{' '.join(s.features)}]" if s.features else "")
            for s in self.http_steps
        )
        return (
            f"{self.name}: {self.theme}, {len(self.http_steps)} HTTP steps on "
            f"{len({s.host for s in self.http_steps})} hosts, {len(self.flows)} flows: {shapes}"
        )

    def config_toml(self, *, dtmf: Sequence[str] | None = None) -> str:
        """The project's `ivr-harness.toml`: flows, backends and secrets, no caller input
        unless `dtmf` is given (the battery is meant to find its own)."""
        lines = ['flows = ["flows"]']
        if self.dead_air_ms != 8000:
            lines.append(f"dead-air-ms = {self.dead_air_ms}")
        if dtmf is not None:
            lines.append(f"dtmf = {json.dumps(list(dtmf))}")
        for host in self.hosts():
            lines += ["", f'[backends."{host}"]', f'spec = "{self.spec_file(host)}"']
        if self.secrets:
            lines += ["", "[secrets]"]
            lines += [f'{var} = "${{{env}}}"' for var, env in sorted(self.secrets.items())]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "theme": self.theme,
            "entry": self.entry,
            "dead_air_ms": self.dead_air_ms,
            "http_steps": [s.to_json() for s in self.http_steps],
        }
