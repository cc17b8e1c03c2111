"""`ivr-harness diff`: flow versions compared by behaviour (issue 12)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.flow.diff import behaviour_of, diff_flow_sets
from harness.flow.loader import load_flow_set
from tests.contract.conftest import GUIDE_SPECS, invoke
from tests.fixtures.flows import HARDENED, SEED

LOOKUP = "customer-integration/http-customer-lookup"


def _changed_copy(tmp_path: Path, old: str, new: str) -> Path:
    """The hardened flows with one line of the CRM lookup's router changed."""
    folder = tmp_path / "flows"
    shutil.copytree(HARDENED, folder)
    target = folder / "customer-integration.json"
    text = target.read_text()
    assert text.count(old) == 1
    target.write_text(text.replace(old, new))
    return folder


@pytest.fixture
def router_changed(tmp_path: Path) -> Path:
    source = (HARDENED / "customer-integration.json").read_text()
    old = next(
        line
        for line in source.splitlines()
        if "http_status_code == 401 || http_status_code == 403" in line
    )
    index = source.splitlines().index(old)
    following = source.splitlines()[index + 1]
    assert "mark-auth-failure" in following
    return _changed_copy(
        tmp_path, following, following.replace("mark-auth-failure", "process-success")
    )


def test_seed_vs_hardened_lists_every_class_whose_branch_differs() -> None:
    seed, hardened = load_flow_set(SEED), load_flow_set(HARDENED)
    before, after = behaviour_of(seed), behaviour_of(hardened)
    run = invoke("diff", SEED, HARDENED)
    lines = run.stdout.splitlines()
    differing = [k for k in before if k in after and before[k].branch != after[k].branch]
    assert len(differing) >= 10
    for flow_id, step_id, outcome in differing:
        old, new = before[(flow_id, step_id, outcome)], after[(flow_id, step_id, outcome)]
        where = f"{outcome} on {flow_id}/{step_id}: {old.branch} -> {new.branch}"
        line = next((x for x in lines if where in x), None)
        assert line is not None, where
        if old.terminal != new.terminal:
            assert f"ends {old.terminal} -> {new.terminal}" in line
    assert f"403 on {LOOKUP}: process-success -> mark-auth-failure" in run.stdout
    assert run.exit_code == 0  # hardening sends nothing new to success or over the budget


def test_hardened_back_to_seed_is_a_regression() -> None:
    run = invoke("diff", HARDENED, SEED)
    assert run.exit_code == 1
    assert f"REGRESSION 403 on {LOOKUP}: mark-auth-failure -> process-success" in run.stdout


def test_identical_versions_print_nothing_and_exit_0() -> None:
    run = invoke("diff", HARDENED, HARDENED)
    assert (run.exit_code, run.stdout, run.stderr) == (0, "", "")


def test_a_one_line_router_change_is_found(router_changed: Path) -> None:
    run = invoke("diff", HARDENED, router_changed)
    assert run.exit_code == 1
    lines = run.stdout.splitlines()
    assert any(
        x.startswith(f"REGRESSION 403 on {LOOKUP}: mark-auth-failure -> process-success")
        for x in lines
    ), run.stdout
    # 401 is retried first, then fails through the changed branch too
    assert all("403" in x or "401" in x for x in lines), lines
    result = diff_flow_sets(load_flow_set(HARDENED), load_flow_set(router_changed))
    assert result.failed and {c.outcome for c in result.changes} <= {"401", "403"}


def test_a_5xx_sent_to_the_old_success_step_is_a_regression(tmp_path: Path) -> None:
    # The lint reads the 5xx's own target as the fallback, so in the new version the step
    # where a ticket succeeds is no success branch; it still is the old version's.
    folder = tmp_path / "flows"
    shutil.copytree(HARDENED, folder)
    target = folder / "ticket-submit.json"
    document = json.loads(target.read_text())
    router = next(s for s in document["steps"] if s["id"] == "ticket-router")
    branch = {"expression": "http_status_code >= 500", "nextStepId": "ticket-done"}
    router["configuration"]["conditions"].insert(0, branch)
    target.write_text(json.dumps(document))
    run = invoke("diff", HARDENED, folder)
    assert run.exit_code == 1, run.stdout
    where = "on ticket-submit/http-ticket-submit"
    assert run.stdout.splitlines() == [
        f"success {where}: ticket-done is no longer a success branch",
        f"REGRESSION 5xx {where}: ticket-failed -> ticket-done; now reaches a success branch",
    ]


def test_git_revisions_are_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    shutil.copytree(HARDENED, repo / "flows")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], check=True)
    flow = repo / "flows" / "customer-integration.json"
    text = flow.read_text()
    flow.write_text(
        text.replace('"nextStepId": "mark-no-match"', '"nextStepId": "process-success"', 1)
    )
    monkeypatch.chdir(repo)
    run = invoke("diff", "git:HEAD:flows", "flows")
    assert run.exit_code == 1, run.stdout + run.stderr
    assert f"404 on {LOOKUP}: mark-no-match -> process-success" in run.stdout
    same = invoke("diff", "git:HEAD:flows/ticket-submit.json", "flows/ticket-submit.json")
    assert (same.exit_code, same.stdout) == (0, "")
    bad = invoke("diff", "git:no-such-rev:flows", "flows")
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1


def test_gate_against_a_version_reports_the_regressions(
    router_changed: Path, tmp_path: Path
) -> None:
    specs = [a for s in GUIDE_SPECS for a in ("--spec", s)]
    run = invoke(
        "gate", router_changed, *specs, "--report-dir", tmp_path / "r", "--run-id", "d",
        "--max-examples", "10", "--against", HARDENED,
    )  # fmt: skip
    parts = json.loads((tmp_path / "r" / "d" / "results.json").read_text())["parts"]
    part = next(p for p in parts if p["name"] == "diff")
    assert part["status"] == "failed"
    assert any("403 on " + LOOKUP in line for line in part["problems"])
    assert run.exit_code == 1
