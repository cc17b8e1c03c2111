"""The Flow API stand-in over real sockets: tokens and scopes, versions, conflicts, faults."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from harness.backends.flowapi import FlowApiStandIn
from harness.flow.documents import canonical_text
from tests.fixtures.flowapi import CLIENT, SECRET, small_tenant

FLOWS = "/api/v2/flow/flows"


@pytest.fixture
async def api() -> AsyncIterator[FlowApiStandIn]:
    grants = {CLIENT: ["flow:edit", "integration:manage", "api:read"], "reader": ["api:read"]}
    clients = {CLIENT: SECRET, "reader": "r3ader"}
    async with FlowApiStandIn(clients=clients, grants=grants, flows=small_tenant()) as standin:
        yield standin


@pytest.fixture
async def http(api: FlowApiStandIn) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.url, trust_env=False, timeout=10) as client:
        yield client


async def token(
    http: httpx.AsyncClient, client: str = CLIENT, secret: str = SECRET, scope: str = ""
) -> str:
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    # RFC 6749 2.3.1: both halves form-encoded before base64 (httpx does not).
    answer = await http.post("/auth/token", data=form, auth=(quote(client), quote(secret)))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}", "Content-Type": "application/json"}


async def test_a_token_carries_the_scopes_the_client_holds(http: httpx.AsyncClient) -> None:
    answer = await http.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": "flow:edit api:read"},
        auth=("reader", "r3ader"),
    )
    assert answer.json()["scope"] == "api:read"
    assert answer.headers["cache-control"] == "no-store"
    wrong = await http.post(
        "/auth/token", data={"grant_type": "client_credentials"}, auth=(CLIENT, "nope")
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    none = await http.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": "flow:edit"},
        auth=("reader", "r3ader"),
    )
    assert none.status_code == 400 and none.json()["error"] == "invalid_scope"


async def test_reads_need_a_token_and_api_read(http: httpx.AsyncClient) -> None:
    anonymous = await http.get(f"{FLOWS}/ivr")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "invalid_token"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    listed = await http.get(FLOWS, headers=bearer(await token(http)))
    assert [f["id"] for f in listed.json()["flows"]] == ["greeting", "ivr", "lookup"]
    assert {f["version"] for f in listed.json()["flows"]} == {4}


async def test_a_write_without_flow_edit_is_403_naming_the_scope(http: httpx.AsyncClient) -> None:
    reader = await token(http, "reader", "r3ader")
    ivr = (await http.get(f"{FLOWS}/ivr", headers=bearer(reader))).json()
    answer = await http.put(
        f"{FLOWS}/ivr", content=json.dumps({**ivr, "version": 5}), headers=bearer(reader)
    )
    assert answer.status_code == 403
    assert answer.json() == {
        "error": "insufficient_scope",
        "error_description": "this call needs scope flow:edit",
        "scope": "flow:edit",
    }
    assert 'scope="flow:edit"' in answer.headers["www-authenticate"]


async def test_an_integration_needs_integration_manage(http: httpx.AsyncClient) -> None:
    editor = await token(http, scope="flow:edit api:read")
    lookup = (await http.get(f"{FLOWS}/lookup", headers=bearer(editor))).json()
    answer = await http.put(
        f"{FLOWS}/lookup", content=json.dumps({**lookup, "version": 5}), headers=bearer(editor)
    )
    assert answer.status_code == 403 and answer.json()["scope"] == "integration:manage"
    greeting = (await http.get(f"{FLOWS}/greeting", headers=bearer(editor))).json()
    plain = await http.put(
        f"{FLOWS}/greeting", content=json.dumps({**greeting, "version": 5}), headers=bearer(editor)
    )
    assert plain.status_code == 200  # no HTTP step: flow:edit is enough


async def test_versions_and_etags_guard_every_write(
    http: httpx.AsyncClient, api: FlowApiStandIn
) -> None:
    auth = bearer(await token(http))
    got = await http.get(f"{FLOWS}/greeting", headers=auth)
    etag, document = got.headers["etag"], got.json()
    assert got.text == canonical_text(document) == api.store.flows["greeting"].text
    same_version = await http.put(f"{FLOWS}/greeting", content=got.text, headers=auth)
    assert same_version.status_code == 409
    assert same_version.json()["error"] == "version_conflict"
    assert same_version.json()["current_version"] == 4
    nxt = await http.put(
        f"{FLOWS}/greeting", content=json.dumps({**document, "version": 5}), headers=auth
    )
    assert nxt.status_code == 200 and nxt.headers["etag"] != etag
    stale = await http.put(
        f"{FLOWS}/greeting",
        content=json.dumps({**document, "version": 6}),
        headers={**auth, "If-Match": etag},
    )
    assert stale.status_code == 409
    # With the current ETag a client may restore an earlier document, number and all.
    restored = await http.put(
        f"{FLOWS}/greeting", content=got.text, headers={**auth, "If-Match": nxt.headers["etag"]}
    )
    assert restored.status_code == 200 and restored.text == got.text
    exists = await http.put(
        f"{FLOWS}/greeting", content=got.text, headers={**auth, "If-None-Match": "*"}
    )
    assert exists.status_code == 409


async def test_create_and_delete(http: httpx.AsyncClient) -> None:
    auth = bearer(await token(http))
    document: dict[str, Any] = {
        "id": "new-flow",
        "name": "New",
        "flowType": "SubFlow",
        "version": 1,
        "steps": [{"id": "r", "type": "Return", "configuration": {}}],
    }
    created = await http.put(
        f"{FLOWS}/new-flow", content=json.dumps(document), headers={**auth, "If-None-Match": "*"}
    )
    assert created.status_code == 201
    wrong = await http.delete(f"{FLOWS}/new-flow", headers={**auth, "If-Match": '"0"'})
    assert wrong.status_code == 409
    gone = await http.delete(
        f"{FLOWS}/new-flow", headers={**auth, "If-Match": created.headers["etag"]}
    )
    assert gone.status_code == 204
    assert (await http.get(f"{FLOWS}/new-flow", headers=auth)).status_code == 404


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"steps": [{"id": "x", "type": "Teleport", "configuration": {}}]}, "/steps/0/type"),
        ({"id": "other"}, "/id"),
        ({"version": 0}, "/version"),
    ],
)
async def test_an_invalid_flow_is_400_with_a_pointer(
    http: httpx.AsyncClient, change: dict[str, Any], pointer: str
) -> None:
    auth = bearer(await token(http))
    greeting = (await http.get(f"{FLOWS}/greeting", headers=auth)).json()
    answer = await http.put(
        f"{FLOWS}/greeting", content=json.dumps({**greeting, "version": 5, **change}), headers=auth
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_flow"
    assert answer.json()["pointer"].startswith(pointer)


async def test_an_expired_token_is_401_token_expired(
    http: httpx.AsyncClient, api: FlowApiStandIn
) -> None:
    auth = bearer(await token(http))
    api.store.expire_tokens()
    answer = await http.get(f"{FLOWS}/ivr", headers=auth)
    assert answer.status_code == 401 and answer.json()["error"] == "token_expired"


async def test_the_fault_control_api_is_the_same_as_the_other_backends(
    http: httpx.AsyncClient, api: FlowApiStandIn
) -> None:
    spec = {"kind": "status", "status": 503, "times": 2, "method": "GET"}
    assert (await http.post("/__faults", json=spec)).status_code == 201
    auth = bearer(await token(http))
    statuses = [(await http.get(f"{FLOWS}/ivr", headers=auth)).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    listed = (await http.get("/__faults")).json()
    assert listed["backend"] == "flowapi" and listed["counters"]["fired"] == {"status": 2}
    refused = await http.post("/__faults", json={"kind": "empty"})
    assert refused.status_code == 400 and refused.json()["pointer"] == "/kind"
    log = (await http.get("/__requests")).json()["requests"]
    sent = {value for entry in log for name, value in entry["headers"] if name == "authorization"}
    assert sent == {"[redacted]"}
    assert [r.status for r in api.requests("GET")][-3:] == [503, 503, 200]


def test_a_non_loopback_host_is_refused() -> None:
    from harness.errors import UnsafeTargetError

    with pytest.raises(UnsafeTargetError, match="--allow-non-loopback"):
        FlowApiStandIn(host="0.0.0.0")
