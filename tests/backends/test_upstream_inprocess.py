"""The fault-injecting reverse proxy in-process: respx is the team's real backend.

The proxy app runs on httpx's ASGI transport and forwards with an httpx client whose
transport is a respx router, so what reaches "the backend" is inspected per route.
Over the wire the same proxy runs in front of a real server in
tests/backends/test_own_backends.py and tests/test_own_ivr.py (a real upstream).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from harness.backends.faults import FaultSet, RequestLog
from harness.backends.faultspec import KINDS
from harness.backends.upstream import build_proxy_app
from harness.backends.webhook import WebhookSender
from harness.clock import VirtualClock

UPSTREAM = "http://127.0.0.1:9"


@pytest.fixture
def backend() -> respx.MockRouter:
    return respx.MockRouter(assert_all_called=False)


@pytest.fixture
async def proxy(backend: respx.MockRouter) -> AsyncIterator[tuple[httpx.AsyncClient, FaultSet]]:
    clock = VirtualClock()
    faults = FaultSet("orders", allowed_kinds=frozenset(KINDS))
    sender = WebhookSender(clock)
    forward = httpx.AsyncClient(transport=httpx.MockTransport(backend.async_handler))
    app = build_proxy_app(UPSTREAM, name="orders", faults=faults, log=RequestLog(), clock=clock,
                          sender=sender, client=forward)  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
        yield client, faults
    await forward.aclose()
    await sender.aclose()


async def test_it_forwards_the_request_and_keeps_the_trace_header_to_itself(
    proxy: tuple[httpx.AsyncClient, FaultSet], backend: respx.MockRouter
) -> None:
    client, _ = proxy
    route = backend.post(f"{UPSTREAM}/v1/orders", params={"src": "ivr"}).respond(
        201, json={"id": "O-1"}
    )
    answer = await client.post(
        "/v1/orders?src=ivr",
        json={"sku": "A"},
        headers={"X-IVR-Harness-Trace": "call-1;flow/step;1", "Idempotency-Key": "k-1"},
    )
    assert answer.status_code == 201 and answer.json() == {"id": "O-1"}
    sent = route.calls.last.request
    assert json.loads(sent.content) == {"sku": "A"}
    assert sent.headers["idempotency-key"] == "k-1"
    assert "x-ivr-harness-trace" not in sent.headers


async def test_faults_answer_before_the_backend_or_change_its_answer(
    proxy: tuple[httpx.AsyncClient, FaultSet], backend: respx.MockRouter
) -> None:
    client, faults = proxy
    route = backend.get(f"{UPSTREAM}/v1/orders/1").respond(200, json={"items": [1], "status": "x"})
    faults.add({"kind": "status", "status": 503, "times": 1})
    assert (await client.get("/v1/orders/1")).status_code == 503
    assert route.call_count == 0  # the storm never reached the backend
    faults.add({"kind": "empty"})
    emptied = await client.get("/v1/orders/1")
    assert emptied.json() == {"items": [], "status": "x"} and route.call_count == 1


async def test_a_backend_failing_mid_run_is_a_gateway_answer(
    proxy: tuple[httpx.AsyncClient, FaultSet], backend: respx.MockRouter
) -> None:
    client, _ = proxy
    backend.get(f"{UPSTREAM}/v1/orders/1").mock(side_effect=httpx.ConnectError("refused"))
    answer = await client.get("/v1/orders/1")
    assert answer.status_code == 502
    assert answer.json() == {"error": "bad_gateway", "message": "ConnectError"}
