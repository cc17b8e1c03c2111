"""Every fault kind over real sockets, and the control API's validation."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from harness.backends.faults import FaultSet
from harness.backends.server import ReferenceBackends
from harness.errors import ConfigError

from .conftest import API_KEY, get_token

SLACK_S = 1.0  # CI noise allowance, on upper bounds only

LOOKUP = "/v2/accounts?phone=%2B14155552671"


async def crm_get(b: ReferenceBackends, client: httpx.AsyncClient) -> httpx.Response:
    token = await get_token(client, b)
    return await client.get(b.urls["crm"] + LOOKUP, headers={"Authorization": f"Bearer {token}"})


async def post_fault(client: httpx.AsyncClient, url: str, spec: Any) -> httpx.Response:
    return await client.post(f"{url}/__faults", content=json.dumps(spec))


async def test_status_storm_n_times_then_recovers(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    spec = {"kind": "status", "status": 503, "times": 2, "headers": {"Retry-After": "1"}}
    created = await post_fault(client, backends.urls["crm"], spec)
    assert created.status_code == 201
    statuses = [(await crm_get(backends, client)).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    storm = backends.requests("crm")[0]
    assert storm.status == 503 and storm.faults == ("status",)
    listed = (await client.get(f"{backends.urls['crm']}/__faults")).json()
    assert listed["faults"] == [] and listed["counters"]["fired"] == {"status": 2}


async def test_status_storm_body_headers_and_until_cleared(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    backends.faults("crm").add({"kind": "status", "status": 502, "body": {"why": "test"},
                                "headers": {"Retry-After": 3}})  # fmt: skip
    for _ in range(3):
        response = await crm_get(backends, client)
        assert response.status_code == 502 and response.json() == {"why": "test"}
        assert response.headers["retry-after"] == "3"
    assert (await client.delete(f"{backends.urls['crm']}/__faults")).status_code == 204
    assert (await crm_get(backends, client)).status_code == 200


async def test_status_fraction_is_seeded(client: httpx.AsyncClient) -> None:
    async def run() -> list[int]:
        async with ReferenceBackends(seed=7, api_key=API_KEY) as b:
            b.faults("tickets").add({"kind": "status", "status": 500, "fraction": 0.5})
            url = f"{b.urls['tickets']}/v1/tickets/TCK-1"
            return [
                (await client.get(url, headers={"X-API-Key": API_KEY})).status_code
                for _ in range(20)
            ]

    first, second = await run(), await run()
    assert first == second
    assert 500 in first and 404 in first


async def test_route_and_method_filters(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    backends.faults("tickets").add({"kind": "not_found", "route": "/v1/tickets/*", "method": "get"})
    url = f"{backends.urls['tickets']}/v1/tickets"
    made = await client.post(url, json={"account_id": "ACC-1", "phone": "+14155552671",
                                        "priority": "NORMAL", "source": "IVR"},
                             headers={"X-API-Key": API_KEY})  # fmt: skip
    assert made.status_code == 201
    read = await client.get(f"{url}/{made.json()['id']}", headers={"X-API-Key": API_KEY})
    assert read.status_code == 404 and read.json() == {"error": "not_found"}


async def test_empty(backends: ReferenceBackends, client: httpx.AsyncClient) -> None:
    backends.faults("crm").add({"kind": "empty", "times": 1})
    assert (await crm_get(backends, client)).json() == {"status": "ok", "data": []}
    assert len((await crm_get(backends, client)).json()["data"]) == 1


async def test_token_expired(backends: ReferenceBackends, client: httpx.AsyncClient) -> None:
    backends.faults("crm").add({"kind": "token_expired", "times": 1})
    expired = await crm_get(backends, client)
    assert expired.status_code == 401 and expired.json() == {"error": "token_expired"}
    assert (await crm_get(backends, client)).status_code == 200


async def test_rate_limit(backends: ReferenceBackends, client: httpx.AsyncClient) -> None:
    backends.faults("oauth").add({"kind": "rate_limit", "retry_after": 2, "times": 1})
    throttled = await client.post(
        f"{backends.urls['oauth']}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("ivr-client", "s3cret"),
    )
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "2"
    await get_token(client, backends)
    assert backends.token_requests == 2  # the throttled call counts as a call


async def test_malformed(backends: ReferenceBackends, client: httpx.AsyncClient) -> None:
    backends.faults("crm").add({"kind": "malformed"})
    response = await crm_get(backends, client)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


async def test_oversized_keeps_payload(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    backends.faults("crm").add({"kind": "oversized", "bytes": 40_000})
    response = await crm_get(backends, client)
    assert len(response.content) > 40_000
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.json()["data"][0]["id"] == "ACC-1001"


async def test_oversized_default_is_64_kib(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    backends.faults("crm").add({"kind": "oversized"})
    assert len((await crm_get(backends, client)).content) > 64 * 1024


async def test_rename_field(backends: ReferenceBackends, client: httpx.AsyncClient) -> None:
    backends.faults("crm").add(
        {"kind": "rename_field", "from": "loyalty_tier", "to": "loyaltyTier"}
    )
    attributes = (await crm_get(backends, client)).json()["data"][0]["attributes"]
    assert attributes == {"loyaltyTier": "PLATINUM", "support_tickets": 2}


async def test_delay(backends: ReferenceBackends, client: httpx.AsyncClient) -> None:
    token = await get_token(client, backends)
    backends.faults("crm").add({"kind": "delay", "ms": 300, "times": 1})
    started = time.monotonic()
    response = await client.get(backends.urls["crm"] + LOOKUP,
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert 0.300 <= elapsed < 0.300 + SLACK_S  # never early, and not far late


async def test_dribble_paces_the_body(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    token = await get_token(client, backends)
    backends.faults("crm").add({"kind": "dribble", "bytes_per_chunk": 40, "interval_ms": 50})
    arrivals: list[float] = []
    started = time.monotonic()
    async with client.stream("GET", backends.urls["crm"] + LOOKUP,
                             headers={"Authorization": f"Bearer {token}"}) as response:  # fmt: skip
        body = b""
        async for chunk in response.aiter_raw():
            arrivals.append(time.monotonic() - started)
            body += chunk
    assert json.loads(body)["data"][0]["id"] == "ACC-1001"
    expected = -(-len(body) // 40)
    assert len(arrivals) >= expected - 1  # the OS may merge two drips, rarely
    # one 50 ms wait between consecutive chunks: the last byte can come no sooner
    floor = (expected - 1) * 0.050
    assert floor <= arrivals[-1] < floor + SLACK_S


async def test_dribble_stops_when_client_leaves(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    backends.faults("tickets").add({"kind": "dribble", "bytes_per_chunk": 1, "interval_ms": 100})
    url = f"{backends.urls['tickets']}/v1/tickets/TCK-1"
    # Per-read timeouts never fire on a drip (each byte is "on time"): only a deadline does.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await client.get(url, headers={"X-API-Key": API_KEY}, timeout=5)
    # The 21-byte body would take 2 s; the server notices the hang-up and stops early.
    for _ in range(50):
        if backends.requests("tickets"):
            break
        await asyncio.sleep(0.02)
    assert backends.requests("tickets"), "the drip kept going after the client left"


@pytest.mark.parametrize(
    ("spec", "pointer"),
    [
        ([], ""),
        ({}, "/kind"),
        ({"kind": "stauts", "status": 503}, "/kind"),
        ({"kind": "status"}, "/status"),
        ({"kind": "status", "status": 99}, "/status"),
        ({"kind": "status", "status": True}, "/status"),
        ({"kind": "status", "status": 503, "times": 0}, "/times"),
        ({"kind": "status", "status": 503, "fraction": 1.5}, "/fraction"),
        ({"kind": "status", "status": 503, "route": "accounts"}, "/route"),
        ({"kind": "status", "status": 503, "method": "FETCH"}, "/method"),
        ({"kind": "status", "status": 503, "headers": {"Bad Name": "x"}}, "/headers/Bad Name"),
        ({"kind": "status", "status": 503, "retry": 1}, "/retry"),
        ({"kind": "rotate_scopes", "scopes": []}, "/scopes"),
        ({"kind": "rotate_scopes", "scopes": ["ok", "bad scope"]}, "/scopes/1"),
        ({"kind": "rotate_scopes", "scopes": ["a"], "times": 2}, "/times"),
        ({"kind": "delay"}, "/ms"),
        ({"kind": "dribble", "bytes_per_chunk": 0}, "/bytes_per_chunk"),
        ({"kind": "rename_field", "from": "a"}, "/to"),
        ({"kind": "oversized", "bytes": -1}, "/bytes"),
        ({"kind": "accepted"}, "/kind"),  # not a CRM fault
    ],
)
async def test_control_api_rejects_bad_specs(
    backends: ReferenceBackends, client: httpx.AsyncClient, spec: Any, pointer: str
) -> None:
    response = await post_fault(client, backends.urls["crm"], spec)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_fault" and body["pointer"] == pointer
    assert f"#{pointer}" in body["message"] if pointer else "<input>" in body["message"]
    assert backends.faults("crm").active == []


async def test_control_api_rejects_non_json(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    response = await client.post(f"{backends.urls['oauth']}/__faults", content=b"{nope")
    assert response.status_code == 400 and response.json()["pointer"] == ""


def test_python_door_raises_config_error_with_hint() -> None:
    faults = FaultSet("crm", allowed_kinds=frozenset({"status"}))
    with pytest.raises(ConfigError) as caught:
        faults.add({"kind": "status", "status": 503, "tims": 2})
    assert caught.value.pointer == "/tims" and "did you mean 'times'?" in str(caught.value)
