"""`pull`, `deploy` and `drift` as a user runs them: real processes, a stand-in tenant on loopback.

The acceptance of issue 23, over the wire: the pull -> edit -> deploy -> drift round trip;
a release of three flows with a 409 on the third leaves the tenant byte-equal and exits 1;
a missing `flow:edit` exits 1 naming it; a SubFlow neither deployed nor released is
refused before any PUT naming both flows; drift names the step and outcome class of a
behaviour change and lists a text-only one apart; SIGINT rolls back and exits 130; no
secret or token in any output.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.cli_run import CLI, ROOT, assert_one_line_error, run_cli
from tests.fixtures.flowapi import (
    OPENAPI,
    SECRET,
    SPECS,
    Tenant,
    edited,
    hardened_documents,
    small_tenant,
    tenant_in_thread,
    write_flows,
)

CRM_SPEC = ("--spec", f"api.crm-provider.com={OPENAPI / 'crm.yaml'}")
NET = ("--retries", "2", "--timeout", "5")
QUICK = ("--max-examples", "5", *NET)


@pytest.fixture
def tenant(monkeypatch: pytest.MonkeyPatch) -> Any:
    with tenant_in_thread(small_tenant()) as running:
        for name, value in running.env.items():
            monkeypatch.setenv(name, value)
        yield running


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--report-dir", str(tmp_path / "reports"), cwd=tmp_path)


def results(tmp_path: Path) -> dict[str, Any]:
    (found,) = [p for p in (tmp_path / "reports").glob("*/results.json")]
    return dict(json.loads(found.read_text()))


def test_pull_edit_deploy_drift_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with tenant_in_thread(hardened_documents()) as tenant:
        for name, value in tenant.env.items():
            monkeypatch.setenv(name, value)
        pulled = cli(tmp_path, "pull", "flows")
        assert pulled.returncode == 0, pulled.stderr
        again = cli(tmp_path, "pull", "flows")
        assert "4 flows into flows, 0 changed" in again.stdout  # byte-stable
        ticket = tmp_path / "flows" / "ticket-submit.json"
        document = json.loads(ticket.read_text())
        document["steps"][0]["configuration"]["timeout"] = 2500  # less dead air
        ticket.write_text(json.dumps(document, indent=2))
        specs = [arg for spec in SPECS for arg in ("--spec", spec)]
        deployed = cli(tmp_path, "deploy", "flows", *specs, *QUICK)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert "update    ticket-submit (3 -> 4): deployed" in deployed.stdout
        assert "success on ticket-submit/http-ticket-submit: dead air 8000 -> 7000 ms" in (
            deployed.stdout
        )
        assert tenant.requests("PUT") and len(tenant.requests("PUT")) == 1
        assert json.loads(tenant.text("ticket-submit") or "")["version"] == 4
        held = cli(tmp_path, "drift", "flows")
        assert held.returncode == 0 and "no drift: 4 flows" in held.stdout
        report = next((tmp_path / "reports").glob("*/gate/junit.xml"))
        ET.parse(report)  # the gate's own reports beside the release's


def test_drift_names_the_step_and_outcome_of_a_behaviour_change(
    tenant: Tenant, tmp_path: Path
) -> None:
    repository = write_flows(tmp_path / "flows", small_tenant())
    text_edit = copy.deepcopy(small_tenant()[2])
    text_edit["steps"][0]["configuration"]["prompt"] = "Hello there"
    tenant.edit(text_edit)
    quiet = cli(tmp_path, "drift", str(repository))
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "text only: greeting: /steps/0/configuration/prompt" in quiet.stdout
    ui_edit = copy.deepcopy(small_tenant()[1])
    ui_edit["steps"][1]["configuration"]["conditions"][0]["expression"] = "true"
    tenant.edit(ui_edit)
    drifted = cli(tmp_path, "drift", str(repository), "--run-id", "after-ui-edit")
    assert drifted.returncode == 1
    assert "REGRESSION 503 on lookup/http-lookup" not in drifted.stdout  # classes are diff's names
    assert "REGRESSION 5xx on lookup/http-lookup: done -> greet; now reaches a success branch" in (
        drifted.stdout
    )
    junit = ET.parse(tmp_path / "reports" / "after-ui-edit" / "junit.xml").getroot()
    assert junit.get("failures") == "1"


def test_a_409_on_the_third_of_three_flows_leaves_the_tenant_byte_equal(
    tenant: Tenant, tmp_path: Path
) -> None:
    before = tenant.texts()
    release = write_flows(tmp_path / "release", edited(small_tenant()))
    body = {"error": "version_conflict", "error_description": "deployed meanwhile"}
    tenant.fault(
        {"kind": "status", "status": 409, "body": body, "method": "PUT",
         "route": "/api/v2/flow/flows/ivr"}
    )  # fmt: skip
    done = cli(tmp_path, "deploy", str(release), *CRM_SPEC, *QUICK)
    assert done.returncode == 1, done.stdout + done.stderr
    assert tenant.texts() == before
    assert "CONFLICT ivr is at version 4 on the tenant" in done.stdout
    assert "rolled back: put back to version 4" in done.stdout
    found = results(tmp_path)
    assert found["status"] == "conflict" and found["rollback_complete"] is True
    assert [r["id"] for r in found["rollback"]] == ["lookup", "greeting"]
    html = next((tmp_path / "reports").glob("*/report.html")).read_text()
    assert "Version conflict" in html and "put back to version 4" in html


def test_a_missing_flow_edit_scope_exits_1_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grants = {"deployer": ["api:read", "integration:manage"]}
    with tenant_in_thread(small_tenant(), grants=grants) as tenant:
        for name, value in tenant.env.items():
            monkeypatch.setenv(name, value)
        release = write_flows(tmp_path / "release", edited(small_tenant()))
        done = cli(tmp_path, "deploy", str(release), *CRM_SPEC, *QUICK)
        assert done.returncode == 1
        assert "missing scope flow:edit" in done.stderr
        assert tenant.requests("PUT") == []


def test_a_subflow_neither_deployed_nor_released_is_refused_before_any_put(
    tenant: Tenant, tmp_path: Path
) -> None:
    documents = edited(small_tenant())
    documents[0]["steps"][0]["configuration"]["flowId"] = "lookup-v2"
    release = write_flows(tmp_path / "release", documents)
    done = cli(tmp_path, "deploy", str(release), *CRM_SPEC, *QUICK)
    assert done.returncode == 1
    assert (
        "REFUSED ivr/call-lookup calls flow 'lookup-v2', which is neither deployed nor in this "
        "release" in done.stdout
    )
    assert tenant.requests("PUT") == []
    assert results(tmp_path)["dependencies"]


def test_the_gate_refuses_and_nothing_is_written(tenant: Tenant, tmp_path: Path) -> None:
    documents = edited(small_tenant())
    del documents[1]["steps"][0]["configuration"]["timeout"]  # the guide's 30 s default
    release = write_flows(tmp_path / "release", documents)
    done = cli(tmp_path, "deploy", str(release), *CRM_SPEC, *QUICK)
    assert done.returncode == 1
    assert "gate failed" in done.stdout and "DEPLOY REFUSED" in done.stdout
    assert tenant.requests("PUT") == []


def test_without_a_spec_deploy_says_the_consumer_contract_checks_nothing(
    tenant: Tenant, tmp_path: Path
) -> None:
    release = write_flows(tmp_path / "release", edited(small_tenant()))
    done = cli(tmp_path, "deploy", str(release), *QUICK, "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning: no OpenAPI spec" in done.stderr


def test_a_dry_run_gates_with_the_configurations_specs_and_writes_nothing(
    tenant: Tenant, tmp_path: Path
) -> None:
    release = write_flows(tmp_path / "release", edited(small_tenant()))
    (tmp_path / "ivr-harness.toml").write_text(
        f'flows = ["release"]\n[backends."api.crm-provider.com"]\nspec = "{OPENAPI / "crm.yaml"}"\n'
    )
    done = cli(tmp_path, "deploy", str(release), *QUICK, "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "update    greeting (4 -> 5): would be written" in done.stdout
    assert "warning" not in done.stderr
    consumer = [p for p in results(tmp_path)["gate"]["parts"] if p["name"] == "consumer"]
    assert consumer[0]["summary"].startswith("1 HTTP steps, 0 errors, 0 notes")
    assert tenant.requests("PUT") == []


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_mid_release_rolls_back_then_exits_128_plus_n(
    tenant: Tenant, tmp_path: Path, stop: signal.Signals
) -> None:
    before = tenant.texts()
    release = write_flows(tmp_path / "release", edited(small_tenant()))
    tenant.fault({"kind": "delay", "ms": 2000, "method": "PUT",
                  "route": "/api/v2/flow/flows/lookup", "times": 1})  # fmt: skip
    command = [*CLI, "deploy", str(release), *CRM_SPEC, *QUICK, "--report-dir", "reports"]
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        deadline = time.monotonic() + 60
        while tenant.standin.faults.fired["delay"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(stop)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 128 + stop, out + err
    assert f"interrupted by {stop.name}" in err and "Traceback" not in err
    for _ in range(150):  # the delayed PUT reaches its handler, fenced off by the rollback
        if 409 in [r["status"] for r in tenant.requests("PUT")]:
            break
        time.sleep(0.1)
    lookup = [r["status"] for r in tenant.requests("PUT") if r["path"].endswith("/lookup")]
    assert sorted(lookup) == [200, 409]
    assert tenant.texts() == before
    found = results(tmp_path)
    assert found["status"] == "interrupted" and found["interrupted_by"] == stop.name
    assert found["rollback"][-1] == {"id": "greeting", "result": "put back to version 4"}


def test_no_secret_or_token_in_any_output(tenant: Tenant, tmp_path: Path) -> None:
    release = write_flows(tmp_path / "release", edited(small_tenant()))
    outputs = [
        cli(tmp_path, "pull", "pulled"),
        cli(tmp_path, "deploy", str(release), *CRM_SPEC, *QUICK),
        cli(tmp_path, "drift", str(release)),
    ]
    assert [o.returncode for o in outputs] == [0, 0, 0], [o.stdout + o.stderr for o in outputs]
    texts = [o.stdout + o.stderr for o in outputs]
    texts += [p.read_text() for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    tokens = tenant.standin.store.issued_tokens
    assert len(tokens) >= 3
    for text in texts:
        for secret in (*_forms(SECRET), *tokens):
            assert secret not in text


def _forms(secret: str) -> set[str]:
    import base64
    from urllib.parse import quote, quote_plus

    raw = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    basic = {f"deployer:{s}".encode() for s in (secret, quote(secret, safe=""))}
    return raw | {base64.b64encode(b).decode().rstrip("=") for b in basic}


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CXONE_API_URL", raising=False)
    monkeypatch.delenv("CXONE_ENVIRONMENT", raising=False)
    assert_one_line_error(cli(tmp_path, "pull", "x"), "--api-url", "no Flow API named")
    monkeypatch.setenv("CXONE_API_URL", "https://acme.niceincontact.com")
    monkeypatch.setenv("CXONE_CLIENT_ID", "deployer")
    monkeypatch.setenv("CXONE_CLIENT_SECRET", SECRET)
    assert_one_line_error(cli(tmp_path, "drift", "x", *NET), "--allow-non-loopback")
    monkeypatch.setenv("CXONE_API_URL", "http://127.0.0.1:9")  # discard: nothing listens
    broken = tmp_path / "broken"
    write_flows(broken, small_tenant())
    (broken / "ivr.json").write_text('{"id": "ivr", "name": "x", "flowType": "IVR", "steps": []}')
    assert_one_line_error(cli(tmp_path, "deploy", str(broken), *QUICK), "ivr.json#/steps")
    assert_one_line_error(cli(tmp_path, "pull", "x", *NET), "connection refused")


def test_backend_serve_starts_the_flow_api_too(tmp_path: Path) -> None:
    command = [*CLI, "backend", "serve", "--client", f"deployer:{SECRET}",
               "--tenant-flows", str(ROOT / "contracts" / "flows" / "hardened")]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(4)]
            url = lines[3].split()[1]
            assert lines[3].startswith("flowapi")
            env = {**os.environ, "CXONE_API_URL": url, "CXONE_CLIENT_ID": "deployer",
                   "CXONE_CLIENT_SECRET": SECRET, "NO_COLOR": "1"}  # fmt: skip
            pulled = subprocess.run(
                [*CLI, "pull", "--flow", "customer-lookup-ivr", "out", "--report-dir", "r"],
                env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert "pulled 4 flows" in pulled.stdout, pulled.stderr
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=10)


def test_init_writes_an_opt_in_deploy_job_after_the_suite(tmp_path: Path) -> None:
    import yaml

    from tests.fixtures.own_ivr import write_project

    write_project(tmp_path)
    (tmp_path / "ivr-harness.toml").unlink()
    assert run_cli("init", cwd=tmp_path).returncode == 0
    workflow = yaml.safe_load((tmp_path / ".github" / "workflows" / "ivr-harness.yml").read_text())
    job = workflow["jobs"]["deploy"]
    assert job["needs"] == "resilience"
    assert "vars.IVR_HARNESS_DEPLOY == 'true'" in job["if"]
    assert job["env"]["CXONE_CLIENT_SECRET"] == "${{ secrets.CXONE_CLIENT_SECRET }}"
    assert any(s.get("run", "").startswith("ivr-harness deploy flows") for s in job["steps"])
