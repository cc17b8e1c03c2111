"""Dependencies as a library declares them: ranges in pyproject.toml, exact pins in the lock.

`make install` installs constraints.txt; a requirement added to pyproject.toml without
`make lock` would install unpinned, and a range moved past its pin would install
something CI never ran. Both fail here, naming the package.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# Calendar-versioned: no major to stop at.
CALENDAR = {"dask", "distributed"}
# Their verdicts on our code must not move under us: exact in the dev extra too.
TOOLS = {"uv", "ruff", "mypy", "mutmut", "types-pyyaml", "types-jsonschema"}


def _requirements() -> list[Requirement]:
    found = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in PROJECT["optional-dependencies"].values():
        found += [Requirement(r) for r in extra]
    return [r for r in found if canonicalize_name(r.name) != "ivr-harness"]


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        text = line.split("#")[0].split(";")[0].strip()
        if "==" in text:
            name, _, version = text.partition("==")
            pins[canonicalize_name(name)] = Version(version.strip())
    return pins


def test_every_requirement_is_pinned_inside_its_range() -> None:
    pins = _pins()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in constraints.txt: run `make lock`"
        assert requirement.specifier.contains(pins[name]), (
            f"constraints.txt pins {name}=={pins[name]} outside {requirement.specifier}: "
            "run `make lock`"
        )


def test_libraries_declare_ranges_with_a_lower_and_an_upper_bound() -> None:
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        operators = {spec.operator for spec in requirement.specifier}
        if name in TOOLS:
            assert operators == {"=="}, f"{requirement}: a tool stays exact"
            continue
        assert ">=" in operators, f"{requirement}: no lower bound"
        assert "==" not in operators, f"{requirement}: an exact pin belongs in constraints.txt"
        if name not in CALENDAR:
            assert "<" in operators, f"{requirement}: no upper bound at the next major"
