"""The provider contract against the live reference backends (loopback, port 0)."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from pathlib import Path

from .conftest import API_KEY, CLIENTS, FLOWS, OPENAPI, Live, invoke

SECRET_ENV = {"IVR_TEST_SECRET": CLIENTS["ivr-client"], "IVR_TEST_KEY": API_KEY}


def _oauth(live: Live) -> list[str]:
    return [
        "--oauth-token-url",
        f"{live.urls['oauth']}/oauth/token",
        "--oauth-client-id",
        "ivr-client",
        "--oauth-client-secret-env",
        "IVR_TEST_SECRET",
        "--oauth-scope",
        "crm:read",
        "--oauth-scope",
        "accounts:query",
    ]


def test_correct_backends_pass_with_each_kind_of_auth(live: Live, tmp_path: Path) -> None:
    junit = tmp_path / "provider.xml"
    crm = invoke(
        "provider",
        OPENAPI / "crm.yaml",
        "--base-url",
        live.urls["crm"],
        "--max-examples",
        "8",
        "--junit",
        junit,
        *_oauth(live),
        env=SECRET_ENV,
    )
    assert crm.exit_code == 0, crm.stdout + crm.stderr
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [s.get("failures") for s in suites] == ["0"]
    tickets = invoke(
        "provider",
        OPENAPI / "tickets.yaml",
        "--base-url",
        live.urls["tickets"],
        "--max-examples",
        "5",
        "--auth-header",
        f"X-API-Key={API_KEY}",
    )
    assert tickets.exit_code == 0, tickets.stdout
    assert "stateful (links)" in tickets.stdout
    oauth = invoke(
        "provider",
        OPENAPI / "oauth.yaml",
        "--base-url",
        live.urls["oauth"],
        "--max-examples",
        "5",
        "--auth-basic",
        f"ivr-client:{CLIENTS['ivr-client']}",
    )
    assert oauth.exit_code == 0, oauth.stdout
    assert CLIENTS["ivr-client"] not in oauth.stdout + crm.stdout  # secrets never printed


def test_auth_is_taken_from_the_flows(live: Live) -> None:
    run = invoke(
        "provider",
        OPENAPI / "crm.yaml",
        "--base-url",
        live.urls["crm"],
        "--max-examples",
        "5",
        "--flows",
        FLOWS / "hardened",
        "--set-env",
        "oauth_client_secret=IVR_TEST_SECRET",
        "--oauth-token-url",
        f"{live.urls['oauth']}/oauth/token",
        env=SECRET_ENV,
    )
    assert run.exit_code == 0, run.stdout + run.stderr


def test_drifted_contract_is_a_backend_failure(live: Live, tmp_path: Path) -> None:
    spec = tmp_path / "crm.yaml"
    text = (OPENAPI / "crm.yaml").read_text(encoding="utf-8")
    spec.write_text(text.replace("loyalty_tier", "loyaltyTier"), encoding="utf-8")
    run = invoke(
        "provider",
        spec,
        "--base-url",
        live.urls["crm"],
        "--max-examples",
        "5",
        *_oauth(live),
        env=SECRET_ENV,
    )
    assert run.exit_code == 1
    assert "FAIL GET /v2/accounts" in run.stdout
    assert "loyaltyTier" in run.stdout


def test_examples_that_break_their_schema_are_spec_defects(live: Live, tmp_path: Path) -> None:
    spec = tmp_path / "tickets.yaml"
    text = (OPENAPI / "tickets.yaml").read_text(encoding="utf-8")
    spec.write_text(
        text.replace(
            "pending: {value: {job_id: JOB-000001, status: pending}}",
            "pending: {value: {job_id: JOB-000001, status: lost}}",
            1,
        ),
        encoding="utf-8",
    )
    run = invoke(
        "provider",
        spec,
        "--base-url",
        live.urls["tickets"],
        "--max-examples",
        "3",
        "--auth-header",
        f"X-API-Key={API_KEY}",
    )
    assert run.exit_code == 1
    (defect,) = [line for line in run.stdout.splitlines() if line.startswith("SPEC ")]
    assert "/responses/202/content/application~1json/examples/pending/value" in defect
    assert not [line for line in run.stdout.splitlines() if line.startswith("FAIL")]
    assert "0 backend failures, 1 spec defects" in run.stdout  # reported apart


def test_unreachable_base_url_is_exit_2_naming_it() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    run = invoke("provider", OPENAPI / "crm.yaml", "--base-url", url)
    assert run.exit_code == 2
    assert run.stderr.count("\n") == 1 and url in run.stderr


def test_non_loopback_base_url_is_refused() -> None:
    run = invoke("provider", OPENAPI / "crm.yaml", "--base-url", "https://api.crm-provider.com")
    assert run.exit_code == 2
    assert "--allow-non-loopback" in run.stderr
