"""Every backend endpoint over real sockets, including the OAuth flow end to end."""

from __future__ import annotations

import httpx
import jwt

from harness.backends.oauth import issue_token
from harness.backends.server import ReferenceBackends

from .conftest import API_KEY, get_token

PLATINUM = "+14155552671"
TICKET = {"account_id": "ACC-1001", "phone": PLATINUM, "priority": "HIGH", "source": "IVR_AUTO"}


async def test_urls_and_guide_hosts(backends: ReferenceBackends) -> None:
    assert set(backends.urls) == {"crm", "tickets", "oauth"}
    assert backends.hosts["api.crm-provider.com"] == backends.urls["crm"]
    assert backends.hosts["api.service-provider.com"] == backends.urls["tickets"]
    assert backends.hosts["auth.crm-provider.com"] == backends.urls["oauth"]
    assert len(set(backends.urls.values())) == 3  # one server per backend, for Toxiproxy


async def test_token_is_a_decodable_jwt(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        f"{backends.urls['oauth']}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "ivr-client",
              "client_secret": "s3cret", "scope": "crm:read accounts:query"},
    )  # fmt: skip
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "crm:read accounts:query"
    assert response.headers["cache-control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "ivr-client" and claims["scope"] == "crm:read accounts:query"
    assert claims["exp"] - claims["iat"] == 3600 and claims["jti"]
    assert backends.token_requests == 1


async def test_token_errors(backends: ReferenceBackends, client: httpx.AsyncClient) -> None:
    url = f"{backends.urls['oauth']}/oauth/token"
    grant = {"grant_type": "client_credentials"}
    wrong = await client.post(url, data=grant, auth=("ivr-client", "nope"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert "www-authenticate" in wrong.headers
    scope = await client.post(url, data={**grant, "scope": "admin"}, auth=("ivr-client", "s3cret"))
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"
    kind = await client.post(url, data={"grant_type": "password"}, auth=("ivr-client", "s3cret"))
    assert kind.status_code == 400 and kind.json()["error"] == "unsupported_grant_type"
    json_body = await client.post(url, json=grant, auth=("ivr-client", "s3cret"))
    assert json_body.status_code == 400 and json_body.json()["error"] == "invalid_request"
    assert backends.token_requests == 4


async def test_crm_lookup(backends: ReferenceBackends, client: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {await get_token(client, backends)}"}
    url = f"{backends.urls['crm']}/v2/accounts"
    found = await client.get(url, params={"phone": PLATINUM}, headers=headers)
    assert found.status_code == 200
    [account] = found.json()["data"]
    assert found.json()["status"] == "ok"
    assert account["id"] == "ACC-1001"
    assert account["attributes"] == {"loyalty_tier": "PLATINUM", "support_tickets": 2}
    gold = await client.get(url, params={"phone": "+14155550123"}, headers=headers)
    assert gold.json()["data"][0]["attributes"] == {"loyalty_tier": "GOLD", "support_tickets": 0}
    # The guide's raw URL: an unencoded '+' arrives as a space and still matches.
    raw = await client.get(f"{url}?phone=+14155552671", headers=headers)
    assert raw.json()["data"][0]["id"] == "ACC-1001"
    nobody = await client.get(url, params={"phone": "+15550000000"}, headers=headers)
    assert nobody.json() == {"status": "ok", "data": []}
    missing = await client.get(url, headers=headers)
    assert missing.status_code == 400


async def test_crm_auth_errors(backends: ReferenceBackends, client: httpx.AsyncClient) -> None:
    url = f"{backends.urls['crm']}/v2/accounts?phone=%2B14155552671"
    none = await client.get(url)
    assert none.status_code == 401 and none.json() == {"error": "invalid_token"}
    assert none.headers["www-authenticate"].startswith("Bearer")
    forged = await client.get(url, headers={"Authorization": "Bearer not.a.jwt"})
    assert forged.status_code == 401 and forged.json() == {"error": "invalid_token"}
    expired = issue_token(backends.state, "ivr-client", ["crm:read", "accounts:query"], ttl_s=-1)
    late = await client.get(url, headers={"Authorization": f"Bearer {expired}"})
    assert late.status_code == 401 and late.json() == {"error": "token_expired"}
    narrow = await get_token(client, backends, scope="crm:read")
    short = await client.get(url, headers={"Authorization": f"Bearer {narrow}"})
    assert short.status_code == 403 and short.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in short.headers["www-authenticate"]


async def test_oauth_flow_then_scope_rotation(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    url = f"{backends.urls['crm']}/v2/accounts?phone=%2B14155552671"
    token = await get_token(client, backends)
    assert (await client.get(url, headers={"Authorization": f"Bearer {token}"})).status_code == 200
    backends.faults("crm").add({"kind": "rotate_scopes", "scopes": ["crm:read:v2"]})
    denied = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert denied.status_code == 403 and denied.json()["error"] == "insufficient_scope"
    assert denied.json()["scope"] == "crm:read:v2"
    fresh = await get_token(client, backends, scope="crm:read:v2")
    assert (await client.get(url, headers={"Authorization": f"Bearer {fresh}"})).status_code == 200
    backends.faults("crm").clear()
    assert (await client.get(url, headers={"Authorization": f"Bearer {token}"})).status_code == 200
    assert backends.token_requests == 2


async def test_ticket_create_read_and_idempotency(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    url = f"{backends.urls['tickets']}/v1/tickets"
    headers = {"X-API-Key": API_KEY, "Idempotency-Key": "call-1"}
    first = await client.post(url, json=TICKET, headers=headers)
    assert first.status_code == 201
    ticket = first.json()
    assert ticket["id"].startswith("TCK-") and ticket["case_number"].startswith("CASE-")
    assert ticket["status"] == "open"
    assert ticket["metadata"] == {"estimated_resolution_minutes": 30}
    again = await client.post(url, json=TICKET, headers=headers)
    assert again.status_code == 201 and again.json() == ticket
    assert len(backends.state.tickets) == 1
    other = await client.post(url, json={**TICKET, "priority": "NORMAL"}, headers=headers)
    assert other.status_code == 409
    read = await client.get(f"{url}/{ticket['id']}", headers={"X-API-Key": API_KEY})
    assert read.status_code == 200 and read.json() == ticket
    missing = await client.get(f"{url}/TCK-999999", headers={"X-API-Key": API_KEY})
    assert missing.status_code == 404 and missing.json() == {"error": "not_found"}


async def test_a_ticket_system_retaining_three_forgets_the_oldest_and_their_keys_expire(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    # A long load shard's ticket system: memory bounded, the newest tickets still served.
    backends.state.retain = 3
    url = f"{backends.urls['tickets']}/v1/tickets"
    keyed = {"X-API-Key": API_KEY, "Idempotency-Key": "call-1"}
    first = (await client.post(url, json=TICKET, headers=keyed)).json()
    later = [
        (await client.post(url, json=TICKET, headers={"X-API-Key": API_KEY})).json()["id"]
        for _ in range(4)
    ]
    key = {"X-API-Key": API_KEY}
    assert (await client.get(f"{url}/{first['id']}", headers=key)).status_code == 404
    assert (await client.get(f"{url}/{later[0]}", headers=key)).status_code == 404
    for ticket_id in later[1:]:
        assert (await client.get(f"{url}/{ticket_id}", headers=key)).status_code == 200
    assert len(backends.state.tickets) == 3
    replay = await client.post(url, json=TICKET, headers=keyed)  # its ticket is gone
    assert replay.status_code == 201 and "idempotent-replayed" not in replay.headers
    assert replay.json()["id"] not in {first["id"], *later}
    again = await client.post(url, json=TICKET, headers=keyed)  # the key now means the new one
    assert again.headers["idempotent-replayed"] == "true" and again.json() == replay.json()


async def test_ticket_errors(backends: ReferenceBackends, client: httpx.AsyncClient) -> None:
    url = f"{backends.urls['tickets']}/v1/tickets"
    keyless = await client.post(url, json=TICKET)
    assert keyless.status_code == 401
    wrong = await client.post(url, json=TICKET, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401
    bad = await client.post(
        url, json={**TICKET, "phone": "4155552671"}, headers={"X-API-Key": API_KEY}
    )
    assert bad.status_code == 400 and bad.json()["pointer"] == "/phone"
    text = await client.post(url, content=b"{not json", headers={"X-API-Key": API_KEY})
    assert text.status_code == 400 and text.json()["error"] == "invalid_request"
    assert backends.state.tickets == {}


async def test_request_log_redacts_secrets(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    await client.post(
        f"{backends.urls['tickets']}/v1/tickets", json=TICKET, headers={"X-API-Key": API_KEY}
    )
    [entry] = backends.requests("tickets")
    assert (entry.method, entry.path, entry.status) == ("POST", "/v1/tickets", 201)
    assert entry.header("x-api-key") == "[redacted]"
    listed = (await client.get(f"{backends.urls['tickets']}/__requests")).json()["requests"]
    assert API_KEY not in str(listed) and listed[0]["status"] == 201
    await client.delete(f"{backends.urls['tickets']}/__requests")
    assert backends.requests("tickets") == []


async def test_a_log_not_keeping_answers_every_request_and_records_none(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    # a load shard's journal: nothing reads it, and it would grow for as long as the load
    log = backends.state.logs["tickets"]
    log.keeping = False
    url = f"{backends.urls['tickets']}/v1/tickets"
    created = await client.post(url, json=TICKET, headers={"X-API-Key": API_KEY})
    assert created.status_code == 201
    assert backends.requests("tickets") == []
    log.keeping = True
    await client.post(url, json=TICKET, headers={"X-API-Key": API_KEY})
    assert [e.status for e in backends.requests("tickets")] == [201]
