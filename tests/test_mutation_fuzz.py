"""Mutation fuzz: broken versions of the bundled flows and scenarios never crash the harness.

Each mutant is one small, seeded edit of a bundled document (a key dropped or misspelt,
a value swapped for one of the wrong type, size or encoding, a list item doubled, the
whole text cut short). The static commands run on it in-process; whatever the mutant,
the answer is exit 0, 1 or 2, and an exit 2 is one `error:` line, never a traceback or
a hang. `make test` runs a small count; set IVR_FUZZ_COUNT (the nightly profile does)
for thousands.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.errors import HarnessError
from harness.scenario.model import load_scenario

ROOT = Path(__file__).resolve().parents[1]
FLOWS = ROOT / "contracts" / "flows" / "hardened"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
_NIGHTLY = os.environ.get("HYPOTHESIS_PROFILE") == "nightly"
COUNT = int(os.environ.get("IVR_FUZZ_COUNT", "2000" if _NIGHTLY else "60"))
SEEDS = range(COUNT)

_ODD_VALUES: list[Any] = [
    None, True, -1, 0, 2**70, 1e308, -0.5, "", "x" * 5000, "{{", "}}{{ x", "ü\u202e",
    [], {}, [[[[]]]], {"type": None}, "HTTPRequest", "999999999",
]  # fmt: skip


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*here, index))
    return found


def _mutate(document: Any, rng: random.Random) -> Any:
    """One small edit somewhere in the document."""
    path = rng.choice(_paths(document)[1:])
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    move = rng.randrange(4)
    if move == 0 and isinstance(parent, dict):
        del parent[last]
    elif move == 1 and isinstance(parent, dict):
        parent[str(last)[:-1] + rng.choice("xyz_")] = parent.pop(last)  # a typo'd key
    elif move == 2 and isinstance(parent, list):
        parent.insert(last, parent[last])  # a duplicated item (e.g. two steps, one id)
    else:
        parent[last] = rng.choice(_ODD_VALUES)
    return document


def _mutant_text(source: Path, rng: random.Random) -> str:
    text = source.read_text(encoding="utf-8")
    if rng.random() < 0.1:
        return text[: rng.randrange(len(text))]  # cut short mid-document
    if source.suffix == ".json":
        return json.dumps(_mutate(json.loads(text), rng), indent=2)
    return yaml.safe_dump(_mutate(yaml.safe_load(text), rng), sort_keys=False)


def _assert_clean_exit(args: list[str]) -> None:
    result = CliRunner().invoke(main, args, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args,
        repr(result.exception),
    )
    assert result.exit_code in (0, 1, 2), (args, result.exit_code)
    if result.exit_code == 2:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


@pytest.mark.parametrize("seed", SEEDS)
def test_a_mutated_flow_set_is_linted_budgeted_and_checked_without_a_crash(
    seed: int, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    flows = tmp_path / "flows"
    flows.mkdir()
    victims = sorted(FLOWS.glob("*.json"))
    victim = rng.choice(victims)
    for flow in victims:
        text = _mutant_text(flow, rng) if flow == victim else flow.read_text()
        (flows / flow.name).write_text(text, encoding="utf-8")
    _assert_clean_exit(["lint", str(flows)])
    _assert_clean_exit(["budget", str(flows)])
    spec = f"api.crm-provider.com={ROOT / 'contracts' / 'openapi' / 'crm.yaml'}"
    _assert_clean_exit(["contract", str(flows), "--spec", spec, "--max-examples", "5"])


@pytest.mark.parametrize("seed", SEEDS)
def test_a_mutated_scenario_loads_or_is_refused_in_one_line(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    source = rng.choice(SCENARIOS)
    mutant = tmp_path / source.name
    mutant.write_text(_mutant_text(source, rng), encoding="utf-8")
    try:
        load_scenario(mutant)
    except HarnessError as exc:
        assert "\n" not in str(exc).strip() and str(mutant) in str(exc)
