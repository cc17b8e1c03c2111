"""The consumer contract as Pact V4 files: their structure, what they hold, and Pact's own
verifier (pact-python) replaying them over the wire against our backends.

The verifier is a backend team's tool: it sends each interaction's request to the
provider after its state handler set the provider state up, and compares the answer
with the interaction's response and matchers. Here the state handler sets the status
through the backends' `/__faults` control API, as a team's would seed its database.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from harness.backends.own import OwnBackends
from harness.backends.server import ReferenceBackends
from harness.clock import RealClock
from harness.config import BackendEntry
from harness.contract.consumer import load_named_specs
from harness.contract.pact import PactExport, build_pacts
from harness.flow.loader import load_flow_set
from tests.fixtures.cli_run import run_cli

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "contracts" / "openapi"
HARDENED = ROOT / "contracts" / "flows" / "hardened"
SPECS = [
    f"api.crm-provider.com={OPENAPI / 'crm.yaml'}",
    f"api.service-provider.com={OPENAPI / 'tickets.yaml'}",
    f"auth.crm-provider.com={OPENAPI / 'oauth.yaml'}",
]

_MATCHER = {
    "type": "object",
    "required": ["match"],
    "properties": {
        "match": {"enum": ["type", "regex", "integer", "decimal", "number", "boolean",
                           "include", "equality", "null", "date", "time", "datetime",
                           "values", "contentType", "arrayContains", "statusCode"]},
        "min": {"type": "integer", "minimum": 0},
        "regex": {"type": "string"},
    },
    "allOf": [{"if": {"properties": {"match": {"const": "regex"}}},
               "then": {"required": ["regex"]}}],
}  # fmt: skip
_RULES = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "required": ["matchers"],
        "properties": {
            "combine": {"enum": ["AND", "OR"]},
            "matchers": {"type": "array", "minItems": 1, "items": _MATCHER},
        },
    },
}
_BODY = {
    "type": "object",
    "required": ["content", "contentType", "encoded"],
    "properties": {"contentType": {"type": "string"}, "encoded": {"const": False}},
}
_MULTI = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
# The parts of the Pact Specification V4 (HTTP interactions) our files use, written from
# the specification's text: a verifier reads exactly these.
PACT_V4 = {
    "type": "object",
    "required": ["consumer", "provider", "interactions", "metadata"],
    "properties": {
        "consumer": {"type": "object", "required": ["name"],
                     "properties": {"name": {"type": "string", "minLength": 1}}},
        "provider": {"type": "object", "required": ["name"],
                     "properties": {"name": {"type": "string", "minLength": 1}}},
        "metadata": {"type": "object", "required": ["pactSpecification"], "properties": {
            "pactSpecification": {"type": "object", "required": ["version"],
                                  "properties": {"version": {"const": "4.0"}}}}},
        "interactions": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["type", "key", "description", "request", "response"],
            "properties": {
                "type": {"const": "Synchronous/HTTP"},
                "key": {"type": "string", "minLength": 1},
                "description": {"type": "string", "minLength": 1},
                "pending": {"type": "boolean"},
                "providerStates": {"type": "array", "items": {
                    "type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"}, "params": {"type": "object"}}}},
                "comments": {"type": "object"},
                "request": {
                    "type": "object", "required": ["method", "path"],
                    "additionalProperties": False,
                    "properties": {
                        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
                        "path": {"type": "string", "pattern": "^/"},
                        "query": _MULTI, "headers": _MULTI, "body": _BODY,
                        "matchingRules": {"type": "object", "additionalProperties": False,
                                          "properties": {"path": {"type": "object"},
                                                         "query": _RULES, "body": _RULES,
                                                         "header": _RULES}}}},
                "response": {
                    "type": "object", "required": ["status"], "additionalProperties": False,
                    "properties": {
                        "status": {"type": "integer", "minimum": 100, "maximum": 599},
                        "headers": _MULTI, "body": _BODY,
                        "matchingRules": {"type": "object", "additionalProperties": False,
                                          "properties": {"status": _RULES, "body": _RULES,
                                                         "header": _RULES}}}},
            },
        }},
    },
}  # fmt: skip


def _export(flows: Path = HARDENED, specs: list[str] = SPECS) -> PactExport:
    return build_pacts(load_flow_set(flows), load_named_specs(specs), consumer="clinic-ivr")


@pytest.fixture(scope="module")
def hardened() -> PactExport:
    return _export()


def test_one_pact_per_backend_host_each_valid_v4(hardened: PactExport) -> None:
    assert hardened.skipped == () and hardened.internal_errors == ()
    assert [(p.consumer, p.provider) for p in hardened.pacts] == [
        ("clinic-ivr", "api.crm-provider.com"),
        ("clinic-ivr", "api.service-provider.com"),
        ("clinic-ivr", "auth.crm-provider.com"),
    ]
    for pact in hardened.pacts:
        document = json.loads(pact.text())
        jsonschema.validate(document, PACT_V4)
        interactions = document["interactions"]
        # Pact tells interactions apart by description + provider states, and by key.
        assert len({i["key"] for i in interactions}) == len(interactions)
        assert len({(i["description"], json.dumps(i["providerStates"])) for i in interactions}) \
            == len(interactions)  # fmt: skip


def test_an_interaction_per_documented_status_with_its_state(hardened: PactExport) -> None:
    crm = hardened.pacts[0]
    statuses = sorted(i["response"]["status"] for i in crm.interactions)
    assert statuses == [200, 400, 401, 403, 404, 429, 500]  # crm.yaml's GET /v2/accounts
    by_status = {i["response"]["status"]: i for i in crm.interactions}
    state = by_status[404]["providerStates"][0]
    assert state["params"] == {"operation": "findAccounts", "status": 404}
    assert state["name"].startswith("GET /v2/accounts answers 404: ")
    assert "routed to" in by_status[404]["description"]
    # 5XX is a class: any server error satisfies it.
    assert by_status[500]["response"]["matchingRules"]["status"]["$"]["matchers"] == [
        {"match": "statusCode", "status": "serverError"}
    ]
    assert "body" not in by_status[404]["response"]  # the flow reads no body on a 404


def test_the_success_body_holds_only_the_mapped_fields_with_matchers(hardened: PactExport) -> None:
    lookup = next(i for i in hardened.pacts[0].interactions if i["response"]["status"] == 200)
    body = lookup["response"]["body"]["content"]
    # customer-integration maps $.status, $.data[0] and $.data[0].attributes.loyalty_tier.
    assert set(body) == {"status", "data"}
    rules = lookup["response"]["matchingRules"]["body"]
    assert rules["$.status"] == {"matchers": [{"match": "type"}]}
    assert rules["$.data"] == {"matchers": [{"match": "type", "min": 0}]}
    assert rules["$.data[*].attributes.loyalty_tier"] == {"matchers": [{"match": "type"}]}
    tickets = next(i for i in hardened.pacts[1].interactions if i["response"]["status"] == 201)
    assert set(tickets["response"]["body"]["content"]) == {"id", "case_number", "metadata"}


def test_requests_are_rendered_with_type_matchers_and_no_credentials(
    hardened: PactExport,
) -> None:
    lookup = hardened.pacts[0].interactions[0]["request"]
    assert lookup["method"] == "GET" and lookup["path"] == "/v2/accounts"
    assert re.fullmatch(r"\+[1-9]\d{1,14}", lookup["query"]["phone"][0])  # a plausible E.164
    assert lookup["matchingRules"]["query"]["phone"]["matchers"] == [{"match": "type"}]
    assert "Authorization" not in lookup["headers"]  # 'Bearer {{crm_access_token}}'
    ticket = hardened.pacts[1].interactions[0]["request"]
    assert "X-API-Key" not in ticket.get("headers", {})  # the apiKey authentication's header
    assert set(ticket["body"]["content"]) >= {"account_id", "phone", "priority", "source"}
    assert {"$.account_id", "$.phone"} <= set(ticket["matchingRules"]["body"])


SECRET_FLOW = {
    "id": "leaky",
    "name": "leaky",
    "flowType": "IVR",
    "version": 1,
    "variables": {"crm_token": "tok-LIVE-0123456789abcdef", "client_secret": "s3cr3t-value-42"},
    "steps": [
        {"id": "call", "type": "HTTPRequest", "nextStepId": "end", "configuration": {
            "method": "POST",
            "url": "https://auth.crm-provider.com/oauth/token",
            "headers": {"Authorization": "Bearer {{crm_token}}",
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Trace": "{{client_secret}}"},
            "body": "grant_type=client_credentials&client_secret={{client_secret}}",
            "timeout": 3000,
            "responseMapping": {"token": "$.access_token"}}},
        {"id": "end", "type": "Hangup", "configuration": {}},
    ],
}  # fmt: skip


def test_no_secret_reaches_a_pact(tmp_path: Path) -> None:
    (tmp_path / "leaky.json").write_text(json.dumps(SECRET_FLOW))
    export = _export(tmp_path, [SPECS[2]])
    (pact,) = export.pacts
    text = pact.text()
    for secret in ("tok-LIVE-0123456789abcdef", "s3cr3t-value-42"):
        for form in (secret, base64.b64encode(secret.encode()).decode()):
            assert form not in text
    request = pact.interactions[0]["request"]
    assert set(request.get("headers", {})) == {"Content-Type"}
    assert "client_secret=%3Csecret%3E" in request["body"]["content"] \
        or "client_secret=<secret>" in request["body"]["content"]  # fmt: skip


def test_contract_pact_writes_one_file_per_host(tmp_path: Path) -> None:
    args = ["contract", str(HARDENED), *[f"--spec={s}" for s in SPECS]]
    done = run_cli(*args, "--pact", str(tmp_path / "pacts"), "--max-examples", "30")
    assert done.returncode == 0, done.stdout + done.stderr
    names = sorted(p.name for p in (tmp_path / "pacts").iterdir())
    assert names == [
        "hardened-api.crm-provider.com.json",
        "hardened-api.service-provider.com.json",
        "hardened-auth.crm-provider.com.json",
    ]
    assert "clinic" not in done.stdout and "(7 interactions)" in done.stdout


# --- Pact's own verifier, over the wire --------------------------------------------------

# pact-python's in-process state-callback server leaves its accepted sockets to the
# garbage collector (a ResourceWarning in its thread); the leak is theirs, not ours.
_PACT_LEAK = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def _verify(pact_file: Path, provider: str, url: str, headers: dict[str, str],
            drift: dict[str, Any] | None = None) -> str:  # fmt: skip
    """Run pact-python's verifier; '' when it passes, else its failure text."""
    from pact import Verifier

    faults = f"{url}/__faults"

    def state(state: str, action: str, parameters: dict[str, Any] | None = None) -> None:
        status = int((parameters or {}).get("status", 200))
        with httpx.Client(timeout=10) as client:
            client.delete(faults)
            if action != "setup":
                return
            if status == 202 or not 200 <= status < 300:
                client.post(faults, json={"kind": "status", "status": status})
            elif drift is not None:
                client.post(faults, json=drift)

    verifier = Verifier(provider, host="127.0.0.1").add_transport(url=url).add_source(pact_file)
    for name, value in headers.items():
        verifier.add_custom_header(name, value)
    verifier.state_handler(state, teardown=True)
    try:
        verifier.verify()
    except RuntimeError:
        return verifier.output(strip_ansi=True)
    return ""


@pytest.fixture(scope="module")
def pact_dir(hardened: PactExport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("pact", reason="pact-python is a dev dependency (make install)")
    folder = tmp_path_factory.mktemp("pacts")
    for pact in hardened.pacts:
        (folder / pact.file_name).write_text(pact.text())
    return folder


async def _token(oauth: str) -> str:
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{oauth}/oauth/token",
            data={"grant_type": "client_credentials", "scope": "crm:read accounts:query"},
            auth=("ivr-client", "secret"),
        )
    return str(answer.json()["access_token"])


@_PACT_LEAK
async def test_pacts_verify_against_the_reference_backends(pact_dir: Path) -> None:
    async with ReferenceBackends(host="127.0.0.1", seed=0, api_key="k",
                                 clients={"ivr-client": "secret"}) as backends:  # fmt: skip
        bearer = {"Authorization": f"Bearer {await _token(backends.urls['oauth'])}"}
        basic = {"Authorization": "Basic " + base64.b64encode(b"ivr-client:secret").decode()}
        for provider, name, headers in (
            ("api.crm-provider.com", "crm", bearer),
            ("api.service-provider.com", "tickets", {"X-API-Key": "k"}),
            ("auth.crm-provider.com", "oauth", basic),
        ):
            pact = pact_dir / f"clinic-ivr-{provider}.json"
            failure = await asyncio.to_thread(
                _verify, pact, provider, backends.urls[name], headers
            )
            assert failure == "", failure


@_PACT_LEAK
async def test_a_renamed_mapped_field_fails_verification(pact_dir: Path) -> None:
    drift = {"kind": "rename_field", "from": "data", "to": "accounts"}
    async with ReferenceBackends(host="127.0.0.1", seed=0, api_key="k",
                                 clients={"ivr-client": "secret"}) as backends:  # fmt: skip
        bearer = {"Authorization": f"Bearer {await _token(backends.urls['oauth'])}"}
        failure = await asyncio.to_thread(
            _verify, pact_dir / "clinic-ivr-api.crm-provider.com.json",
            "api.crm-provider.com", backends.urls["crm"], bearer, drift,
        )  # fmt: skip
    assert "Actual map is missing the following keys: data" in failure


@_PACT_LEAK
async def test_the_crm_pact_verifies_against_an_openapi_stub_of_its_spec(pact_dir: Path) -> None:
    host = "api.crm-provider.com"
    entries = {host: BackendEntry(host=host, spec=OPENAPI / "crm.yaml")}
    async with OwnBackends(entries, clock=RealClock()) as stub:
        # The stub checks a credential is present and well formed, not who signed it.
        headers = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln"}
        failure = await asyncio.to_thread(
            _verify, pact_dir / f"clinic-ivr-{host}.json", host, stub.urls[host], headers
        )
    assert failure == "", failure
