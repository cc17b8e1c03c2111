"""The data the harness ships: JSON Schemas, the example flows, contracts and scenarios.

In the repository they live at the root (`contracts/`, `scenarios/`: the source of
truth); `harness/_bundled/` links to them, so an editable install and a built wheel
read the same files through `importlib.resources`, from any working directory.
pip always installs wheels unzipped, so every bundled item is a real file on disk,
which schemathesis and the flow loader need (they take paths).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

__all__ = [
    "CONTRACTS",
    "SCENARIOS",
    "bundled_schema",
    "example_flow_dirs",
    "example_specs",
]


def _root(name: str) -> Path:
    return Path(str(files("harness") / "_bundled" / name))


CONTRACTS = _root("contracts")
SCENARIOS = _root("scenarios")


def example_flow_dirs() -> list[Path]:
    """The bundled flow sets: the hardened IVR first, then the seed with its defects kept."""
    return [CONTRACTS / "flows" / "hardened", CONTRACTS / "flows" / "seed"]


def example_specs() -> dict[str, Path]:
    """The bundled OpenAPI contracts, by the host the example flows call."""
    openapi = CONTRACTS / "openapi"
    return {
        "api.crm-provider.com": openapi / "crm.yaml",
        "api.service-provider.com": openapi / "tickets.yaml",
        "auth.crm-provider.com": openapi / "oauth.yaml",
    }


@cache
def bundled_schema(name: str) -> Mapping[str, Any]:
    """One of the JSON Schemas in `contracts/schemas/` (flow, scenario, results)."""
    candidate = CONTRACTS / "schemas" / name
    if not candidate.is_file():
        raise ConfigError(
            f"bundled schema {name} is missing", file=candidate, hint="reinstall ivr-harness"
        )
    data: Mapping[str, Any] = json.loads(candidate.read_text(encoding="utf-8"))
    return data
