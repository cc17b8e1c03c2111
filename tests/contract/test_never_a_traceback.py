"""Acceptance: the contract check never crashes, whatever guard a flow writes.

Every flow set of the repository's tests and examples (the bundled seed and hardened
flows, the flows under tests/contract/data, the tutorial's, the IVR fixture modules'),
each with every guard form docs/contracts.md lists, written both ways (towards the step,
or the invalid branch first), in a router that ends the call and in a re-prompt loop, in
front of every HTTP step: the consumer check ends with a verdict and no internal error.
In-process for the bulk; over the real CLI for one variant of every flow set (exit 0, 1
or 2, never a traceback), and with a defect of ours planted in a real process: exit 2, one
line naming the step and its file, every finished report written.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.contract.consumer import check_consumer
from harness.contract.matching import NamedSpec
from harness.contract.openapi import load_spec
from harness.flow.loader import load_flow_set
from tests.fixtures.cli_run import ROOT, run_cli

DATA = Path(__file__).parent / "data"
DOCS = ROOT / "docs"
_FORM_ROW = re.compile(r"^\| ([^|]+?) \| `(.+)` \|$")
_TEMPLATED = ("url", "headers", "body")


def guard_forms() -> list[tuple[str, str]]:
    """(name, condition) for each row of docs/contracts.md's "Guard forms" table."""
    text = (DOCS / "contracts.md").read_text(encoding="utf-8")
    section = text.split("### Guard forms", 1)[1].split("\n#", 1)[0]
    rows = [_FORM_ROW.match(line) for line in section.splitlines()]
    return [(m[1], m[2].replace("\\|", "|")) for m in rows if m]


@dataclass(frozen=True)
class Project:
    """A flow set as documents, and the specs of what it calls."""

    name: str
    documents: tuple[dict[str, Any], ...]
    specs: tuple[Path, ...]


def projects(tmp: Path) -> Iterator[Project]:
    tmp.mkdir(parents=True, exist_ok=True)
    bundled = tuple(sorted((ROOT / "contracts" / "openapi").glob("*.yaml")))
    for name in ("seed", "hardened"):
        yield Project(name, _folder(ROOT / "contracts" / "flows" / name), bundled)
    for folder in sorted({p.parent for p in DATA.rglob("*.json") if _is_flow(p)}):
        specs = sorted({*folder.parent.glob("*.yaml"), *folder.parent.glob("openapi/*.yaml")})
        yield Project(str(folder.relative_to(DATA)), _folder(folder), tuple(specs))
    yield _tutorial(tmp)
    for module in sorted((ROOT / "tests" / "fixtures").glob("*_ivr.py")):
        fixture = importlib.import_module(f"tests.fixtures.{module.stem}")
        if hasattr(fixture, "FLOW") and hasattr(fixture, "SPEC"):
            spec = tmp / f"{module.stem}.yaml"
            spec.write_text(fixture.SPEC, encoding="utf-8")
            yield Project(module.stem, (fixture.FLOW,), (spec,))


def _is_flow(path: Path) -> bool:
    return '"flowType"' in path.read_text(encoding="utf-8")


def _folder(folder: Path) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json")))


def _tutorial(tmp: Path) -> Project:
    text = (DOCS / "your-own-ivr.md").read_text(encoding="utf-8")
    blocks = dict(re.findall(r"<!-- file: (\S+) -->\n```\w+\n(.*?)```", text, re.S))
    spec = tmp / "tutorial-orders.yaml"
    spec.write_text(blocks["openapi/orders.yaml"], encoding="utf-8")
    flows = [json.loads(body) for path, body in blocks.items() if path.startswith("flows/")]
    return Project("tutorial", tuple(flows), (spec,))


# --- planting a guard in front of every HTTP step ----------------------------------------

MODES = ("towards, ends", "away, ends", "towards, loop", "away, loop")


def guarded(documents: tuple[dict[str, Any], ...], condition: str, shift: int) -> list[Any]:
    """The documents with a guard in front of every HTTP step; step i of the set gets mode
    (i + shift) % 4, so over the forms every step meets every mode."""
    out = [copy.deepcopy(d) for d in documents]
    index = 0
    for doc in out:
        for http in [s for s in doc["steps"] if s["type"] == "HTTPRequest"]:
            _plant(doc, http, condition, MODES[(index + shift) % len(MODES)])
            index += 1
    return out


def _plant(doc: dict[str, Any], http: dict[str, Any], condition: str, mode: str) -> None:
    names = _variables(http) + ["x", "y"]
    text = re.sub(r"\bx\b", names[0], condition)
    text = re.sub(r"\by\b", names[1], text)
    target, guard = http["id"], f"guard-{http['id']}"
    _redirect(doc, target, guard)
    away = f"away-{target}"
    if mode.endswith("loop"):
        ask = f"ask-{target}"
        _redirect(doc, guard, ask)
        digits = {"variable": names[0], "maxDigits": 8, "terminator": "#", "prompt": "Again?"}
        doc["steps"] += [
            {"id": ask, "type": "CollectDigits", "configuration": digits, "nextStepId": guard},
            {"id": away, "type": "Play", "configuration": {"prompt": "No."}, "nextStepId": ask},
        ]
    else:
        doc["steps"].append({"id": away, "type": "Hangup", "configuration": {}})
    first, other = (target, away) if mode.startswith("towards") else (away, target)
    doc["steps"].append(
        {
            "id": guard,
            "type": "Condition",
            "configuration": {
                "conditions": [{"expression": text, "nextStepId": first}],
                "defaultStepId": other,
            },
        }
    )


def _variables(http: dict[str, Any]) -> list[str]:
    text = json.dumps({k: http["configuration"].get(k) for k in _TEMPLATED})
    found = re.findall(r"\{\{\s*(?:encodeUriComponent\()?([A-Za-z_]\w*)", text)
    return list(dict.fromkeys(found))


def _redirect(doc: dict[str, Any], old: str, new: str) -> None:
    """Every reference to step ``old`` (and the flow's entry) now goes to ``new``."""
    if doc.get("entryStepId", doc["steps"][0]["id"]) == old:
        doc["entryStepId"] = new
    for step in doc["steps"]:
        if step.get("nextStepId") == old:
            step["nextStepId"] = new
        cfg = step["configuration"]
        for key in ("defaultStepId", "onTimeoutStepId", "onErrorStepId"):
            if cfg.get(key) == old:
                cfg[key] = new
        for branch in cfg.get("conditions", []) if step["type"] == "Condition" else []:
            if branch.get("nextStepId") == old:
                branch["nextStepId"] = new


def _write(folder: Path, documents: list[Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for doc in documents:
        (folder / f"{doc['id']}.json").write_text(json.dumps(doc), encoding="utf-8")
    return folder


# --- the checks ---------------------------------------------------------------------------


def test_the_docs_list_the_guard_forms() -> None:
    forms = dict(guard_forms())
    assert len(forms) >= 12
    assert forms["outcome and variable"] == "http_outcome == 'success' && x != null"
    assert forms["membership"] == "x == 'en' || x == 'fr'"


def test_the_flow_sets_cover_the_repository(tmp_path: Path) -> None:
    names = {p.name for p in projects(tmp_path)}
    assert {"seed", "hardened", "clinic/flows", "billing/flows", "tutorial", "own_ivr"} <= names
    assert {"order-status/guarded", "order-status/unguarded"} <= names


def _every_form_is_a_verdict(form: int, half: int, tmp_path: Path) -> None:
    name, condition = guard_forms()[form]
    for index, project in enumerate(projects(tmp_path / "specs")):
        if (index + form) % 2 != half:
            continue
        folder = _write(tmp_path / project.name / name, guarded(project.documents, condition, form))
        specs = [NamedSpec(name="", spec=load_spec(p)) for p in project.specs]
        report = check_consumer(load_flow_set(folder), specs, max_examples=2)
        assert report.internal_errors == (), (project.name, name, report.internal_errors)
        assert report.steps_checked >= 1


_FORMS = {"argnames": "form", "argvalues": range(len(guard_forms()))}
_IDS = [name for name, _ in guard_forms()]


@pytest.mark.parametrize(**_FORMS, ids=_IDS)
def test_every_guard_form_on_half_the_flow_sets_is_a_verdict(form: int, tmp_path: Path) -> None:
    """Each form over every other flow set (the halves alternate between forms)."""
    _every_form_is_a_verdict(form, 0, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(**_FORMS, ids=_IDS)
def test_every_guard_form_on_the_other_half_is_a_verdict(form: int, tmp_path: Path) -> None:
    """The other half, in `make test-all`: together, every form on every flow set."""
    _every_form_is_a_verdict(form, 1, tmp_path)


_OVER_THE_CLI = ("hardened", "clinic/flows", "billing/flows", "order-status/unguarded")


def test_over_the_cli_flow_sets_with_guards_are_exit_0_or_1(tmp_path: Path) -> None:
    """A representative part over the real CLI: each of these with a different form."""
    forms = guard_forms()
    codes = set()
    chosen = [p for p in projects(tmp_path / "specs") if p.name in _OVER_THE_CLI]
    for index, project in enumerate(chosen):
        _, condition = forms[(3 * index + 9) % len(forms)]
        folder = _write(tmp_path / "flows" / str(index), guarded(project.documents, condition, 0))
        specs = [x for p in project.specs for x in ("--spec", str(p))]
        done = run_cli("contract", str(folder), *specs, "--max-examples", "2", cwd=tmp_path)
        assert done.returncode in (0, 1), (project.name, done.stdout[-2000:], done.stderr)
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr
        codes.add(done.returncode)
    assert codes == {0, 1}  # the unguarded order-status flow still fails, the rest hold


_PLANTED = """
import sys
import harness.contract.consumer as consumer

real = consumer.guards_for_step

def planted(flows, flow, step, *args, **kwargs):
    if step.id == "http-book":
        raise KeyError("a defect of ours")
    return real(flows, flow, step, *args, **kwargs)

consumer.guards_for_step = planted
from harness.cli import main
sys.argv = ["ivr-harness", *sys.argv[1:]]
main()
"""


def test_a_defect_of_ours_is_one_line_and_exit_2_with_every_report_written(
    tmp_path: Path,
) -> None:
    """A real process whose checker crashes at one step (planted: no input makes ours
    crash any more): one line naming that step and its file, the other step still
    checked, exit 2; the gate writes every report, its other parts passed."""
    project = tmp_path / "clinic"
    subprocess.run(["cp", "-r", str(DATA / "clinic"), str(project)], check=True)
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT), "CLINIC_API_KEY": "k"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        script = textwrap.dedent(_PLANTED)
        return subprocess.run(
            [sys.executable, "-c", script, *args],
            cwd=project, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    done = run("contract")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: internal error at clinic-booking/http-book (")
    assert "clinic-booking.json#/steps/7" in line and "KeyError" in line
    assert "INCOMPLETE: 2 HTTP steps" in done.stdout

    done = run("gate", "--report-dir", "reports", "--run-id", "planted")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    out = project / "reports" / "planted"
    assert {p.name for p in out.iterdir()} == {"results.json", "junit.xml", "lint.sarif"}
    results = json.loads((out / "results.json").read_text())
    status = {p["name"]: p["status"] for p in results["parts"]}
    assert status == {"lint": "passed", "budget": "passed", "consumer": "error"}
    consumer = next(p for p in results["parts"] if p["name"] == "consumer")
    assert consumer["details"]["internal_errors"][0].startswith(
        "internal error at clinic-booking/http-book"
    )
    assert consumer["summary"].startswith("2 HTTP steps, 0 errors")
    junit = (out / "junit.xml").read_text()
    assert 'errors="1"' in junit and "internal error at clinic-booking/http-book" in junit
    assert json.loads((out / "lint.sarif").read_text())["version"] == "2.1.0"
