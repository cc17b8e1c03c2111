"""Issue 20 #1, #4, #12: bounded JSONPaths, templates, expressions and specs.

A flow whose response mapping was ``"$" + "[0]" * 50000`` killed lint, gate, diff, call,
suite and mutate with SIGSEGV (exit 139): the JSONPath library evaluates a query as
nested generators, and 50,000 of them overflow the C stack. Small inputs took minutes
(a URL of 5,000 ``{{a}}``, a router of 50,000 ``||``, a member chain of 100,000). Every
such input is now refused or answered in linear time where it is parsed; the bound is
tested, and time only by budgets a super-linear blow-up could never meet.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from harness.flow.expr import (
    ExpressionError,
    check_path,
    evaluate_mapping,
    parse,
    query_first,
)
from harness.flow.expr import Scope as ExprScope
from harness.flow.expr.jsonpath import MAX_PATH_DESCENDANTS, MAX_PATH_SEGMENTS
from harness.flow.expr.lexer import MAX_TOKENS
from harness.openapi_file import load_openapi
from tests.fixtures.cli_run import ROOT, run_cli
from tests.hostile.helpers import (
    HARDENED,
    OPENAPI,
    SPECS,
    assert_clean,
    condition,
    hostile_flows,
    mapping,
    url,
)

DEEP_PATH = "$" + "[0]" * 50_000  # 150 KB: the SIGSEGV of issue 20 #1
BUDGET_S = 60.0  # catches minutes-long blow-ups only; the inputs below take about a second


def _commands(flows: Path, tmp: Path) -> dict[str, list[str]]:
    return {
        "lint": ["lint", str(flows)],
        "diff": ["diff", str(HARDENED), str(flows)],
        "gate": ["gate", str(flows), *SPECS, "--report-dir", str(tmp / "gate")],
        "call": [
            "call", str(flows), "--flow", "customer-lookup-ivr", "--skip-audio",
            "--dtmf", "4155552671#",
        ],
    }  # fmt: skip


@pytest.mark.parametrize("command", ["lint", "diff", "gate", "call"])
def test_a_150_kb_jsonpath_is_refused_not_a_segfault(tmp_path: Path, command: str) -> None:
    flows = hostile_flows(tmp_path / "flows", mapping(DEEP_PATH))
    result = run_cli(*_commands(flows, tmp_path)[command], timeout=BUDGET_S * 3)
    assert result.returncode != -11 and result.returncode != 139, "SIGSEGV"
    assert_clean(result)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["suite", "mutate"])
def test_a_150_kb_jsonpath_in_a_suite_or_mutate_run(tmp_path: Path, command: str) -> None:
    flows = hostile_flows(tmp_path / "flows", mapping(DEEP_PATH))
    happy = str(ROOT / "scenarios" / "happy-path.yaml")
    args = {
        "suite": ["suite", happy, "--flows", str(flows), "--report-dir", str(tmp_path / "r")],
        "mutate": [
            "mutate", str(flows), "--scenarios", happy, "--sample", "1",
            "--report-dir", str(tmp_path / "r"),
        ],
    }[command]  # fmt: skip
    result = run_cli(*args, timeout=600)
    assert result.returncode not in (-11, 139), "SIGSEGV"
    assert_clean(result)


def test_jsonpath_bounds_are_where_the_path_is_parsed() -> None:
    with pytest.raises(ExpressionError, match="longer than 2048 characters"):
        check_path(DEEP_PATH)
    deepest = "$" + "[0]" * MAX_PATH_SEGMENTS
    check_path(deepest)  # at the bound: accepted, and it evaluates
    document: object = "leaf"
    for _ in range(MAX_PATH_SEGMENTS):
        document = [document]
    assert query_first(deepest, document) == "leaf"
    with pytest.raises(ExpressionError, match=f"more than {MAX_PATH_SEGMENTS} segments"):
        check_path(deepest + "[0]")
    dots = "$" + "..a" * MAX_PATH_DESCENDANTS
    check_path(dots)
    with pytest.raises(ExpressionError, match="more than 2 '..' segments"):
        check_path(dots + "..a")
    # A '.' or '[' inside a quoted name is no segment.
    check_path("$['" + "a.b[" * 200 + "']")


def test_a_mapping_past_the_bounds_is_null_safe_never_a_crash() -> None:
    scope = ExprScope(variables={}, response={"data": []})
    with pytest.raises(ExpressionError):
        evaluate_mapping(DEEP_PATH, scope)


def test_expressions_stop_at_the_token_bound_and_say_so() -> None:
    with pytest.raises(ExpressionError, match=f"longer than {MAX_TOKENS} tokens"):
        parse(" || ".join(["a == 1"] * 5_000))
    parse(" || ".join(["a == 1"] * 40))  # a long but real router condition


@pytest.mark.parametrize(
    ("edit", "code", "needle"),
    [
        # 200,000 terms (lint 33 s at 50,000 before): stopped at the token bound.
        (condition(" || ".join(["http_status_code == 1"] * 200_000)), 1, "IVR012"),
        (condition("a" + ".b" * 400_000), 1, "IVR012"),  # 29 s at 100,000 before
        (condition("(" * 100_000 + "1" + ")" * 100_000), 1, "IVR012"),
        (condition("{{" * 400_000), 1, ""),  # quadratic in the placeholder regex before
        (url("https://api.crm-provider.com/x?" + "{{a}}" * 200_000), 2, "placeholders"),
        (mapping("$" + "..*" * 50_000), 0, ""),
        (mapping("'" + "\\'" * 200_000), 0, ""),
    ],
    ids=["or-chain", "member-chain", "parens", "open-braces", "url", "descendants", "quotes"],
)
def test_long_expressions_and_templates_lint_in_linear_time(
    tmp_path: Path, edit: object, code: int, needle: str
) -> None:
    flows = hostile_flows(tmp_path / "flows", edit)  # type: ignore[arg-type]
    started = time.monotonic()
    result = run_cli("lint", str(flows), timeout=BUDGET_S * 3)
    assert time.monotonic() - started < BUDGET_S
    assert_clean(result)
    assert result.returncode == code, result.stdout[-2000:] + result.stderr[-2000:]
    assert needle in result.stdout + result.stderr


def test_a_string_with_too_many_placeholders_is_refused_at_load(tmp_path: Path) -> None:
    too_many = "https://api.crm-provider.com/x?" + "{{a}}" * 1001
    flows = hostile_flows(tmp_path / "bad", url(too_many))
    result = run_cli("lint", str(flows))
    assert_clean(result, 2)
    assert "#/steps/1/configuration/url: more than 1000 {{ }} placeholders" in result.stderr
    fine = hostile_flows(tmp_path / "fine", url(too_many.replace("{{a}}", "", 1)))
    assert_clean(run_cli("lint", str(fine)), 1)  # at the bound: linted (IVR007 on {{a}})


def _spec_file(tmp: Path, paths: int) -> Path:
    document = yaml.safe_load((OPENAPI / "crm.yaml").read_text(encoding="utf-8"))
    item = {"get": {"responses": {"200": {"description": "ok"}}}}
    document["paths"].update({f"/v2/extra{i}/{{id}}": item for i in range(paths)})
    path = tmp / "big.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_a_spec_of_40000_paths_loads_in_linear_time(tmp_path: Path) -> None:
    """The stub's loader took 32 s on 40,000 paths (the garbage collector walking a
    growing document over and over); the gate's 28 s. One loader now, linear."""
    path = _spec_file(tmp_path, 40_000)
    started = time.monotonic()
    spec = load_openapi(path)
    assert time.monotonic() - started < BUDGET_S
    assert len(spec.document["paths"]) > 40_000


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"openapi": None}, "not an OpenAPI document"),
        ({"openapi": "9.9.9"}, "unsupported or missing version '9.9.9'"),
        ({"paths": [1, 2]}, "#/paths: 'paths' is not an object"),
    ],
    ids=["no-version", "version-9", "paths-list"],
)
def test_the_gate_and_the_battery_stub_give_one_verdict_on_one_spec(
    tmp_path: Path, change: dict[str, object], needle: str
) -> None:
    """Issue 20 #12: the gate refused a spec the battery's stub served (and the other way
    round for `paths: [1, 2]`), which then blamed the flow. One loader, one verdict."""
    document = yaml.safe_load((OPENAPI / "crm.yaml").read_text(encoding="utf-8"))
    for key, value in change.items():
        if value is None:
            document.pop(key)
        else:
            document[key] = value
    spec = tmp_path / "crm.yaml"
    spec.write_text(yaml.safe_dump(document), encoding="utf-8")
    specs = [f"api.crm-provider.com={spec}" if "crm" in s else s for s in SPECS]
    gate = run_cli("gate", str(HARDENED), *specs, "--report-dir", str(tmp_path / "g"))
    assert_clean(gate, 2)
    assert needle in gate.stderr
    project = tmp_path / "project"
    project.mkdir()
    (project / "ivr-harness.toml").write_text(
        f'flows = ["{HARDENED}"]\nbattery = false\n'
        f'[backends."api.crm-provider.com"]\nspec = "{spec}"\n',
        encoding="utf-8",
    )
    happy = str(ROOT / "scenarios" / "happy-path.yaml")
    suite = run_cli("suite", happy, "--report-dir", str(tmp_path / "s"), cwd=project)
    # The stub refuses it too: an error run (exit 2), never a flow's failure (exit 1).
    assert suite.returncode == 2 and "Traceback" not in suite.stderr, suite.stderr
    (results,) = (tmp_path / "s").glob("*/results.json")
    (run,) = json.loads(results.read_text(encoding="utf-8"))["runs"]
    assert run["verdict"] == "error" and needle in run["error"]
