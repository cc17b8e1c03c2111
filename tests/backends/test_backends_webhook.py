"""The 202 pattern: Location to poll, then a webhook callback to a receiver the test runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness.backends.server import ReferenceBackends

from .conftest import API_KEY

TICKET = {"account_id": "ACC-1001", "phone": "+14155552671", "priority": "HIGH", "source": "IVR"}


class _Receiver(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Callbacks:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.url = ""


@pytest.fixture
async def callbacks() -> AsyncIterator[Callbacks]:
    sink = Callbacks()

    async def hook(request: Request) -> Response:
        sink.received.append(json.loads(await request.body()))
        sink.arrived.set()
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None)
    server = _Receiver(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    sink.url = f"http://127.0.0.1:{port}/hook"
    yield sink
    server.should_exit = True
    await task


async def test_accepted_then_callback(
    backends: ReferenceBackends, client: httpx.AsyncClient, callbacks: Callbacks
) -> None:
    spec = {"kind": "accepted", "callbackUrl": callbacks.url, "callbackAfterMs": 200}
    backends.faults("tickets").add(spec)
    base = backends.urls["tickets"]
    headers = {"X-API-Key": API_KEY, "X-Correlation-Id": "call-42"}
    response = await client.post(f"{base}/v1/tickets", json=TICKET, headers=headers)
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    assert response.json() == {"job_id": job_id, "status": "pending"}
    assert response.headers["location"] == f"/v1/tickets/jobs/{job_id}"
    polled = await client.get(base + response.headers["location"], headers=headers)
    assert polled.json()["status"] == "pending"
    assert not backends.state.tickets  # nothing exists until the job completes
    await asyncio.wait_for(callbacks.arrived.wait(), timeout=5)
    [payload] = callbacks.received
    assert payload["correlationId"] == "call-42" and payload["jobId"] == job_id
    assert payload["status"] == "completed" and payload["ticket"]["id"].startswith("TCK-")
    done = await client.get(base + response.headers["location"], headers=headers)
    assert done.json()["status"] == "completed" and done.json()["ticket"] == payload["ticket"]
    [delivery] = backends.deliveries
    assert delivery.status_code == 204 and delivery.error is None


async def test_correlation_defaults_to_job_id(
    backends: ReferenceBackends, client: httpx.AsyncClient, callbacks: Callbacks
) -> None:
    backends.faults("tickets").add(
        {"kind": "accepted", "callbackUrl": callbacks.url, "callbackAfterMs": 0}
    )
    response = await client.post(f"{backends.urls['tickets']}/v1/tickets", json=TICKET,
                                 headers={"X-API-Key": API_KEY})  # fmt: skip
    await asyncio.wait_for(callbacks.arrived.wait(), timeout=5)
    assert callbacks.received[0]["correlationId"] == response.json()["job_id"]


async def test_accepted_never_calls_back(
    backends: ReferenceBackends, client: httpx.AsyncClient, callbacks: Callbacks
) -> None:
    backends.faults("tickets").add(
        {"kind": "accepted", "callbackUrl": callbacks.url, "callbackAfterMs": None}
    )
    response = await client.post(f"{backends.urls['tickets']}/v1/tickets", json=TICKET,
                                 headers={"X-API-Key": API_KEY})  # fmt: skip
    assert response.status_code == 202
    await asyncio.sleep(0.3)
    assert callbacks.received == [] and backends.webhooks.pending == 0
    polled = await client.get(backends.urls["tickets"] + response.headers["location"],
                              headers={"X-API-Key": API_KEY})  # fmt: skip
    assert polled.json()["status"] == "pending"


async def test_failed_delivery_is_recorded_not_raised(
    backends: ReferenceBackends, client: httpx.AsyncClient
) -> None:
    # Port 9 (discard) on loopback: nothing listens, so the connection is refused.
    backends.faults("tickets").add(
        {"kind": "accepted", "callbackUrl": "http://127.0.0.1:9/hook", "callbackAfterMs": 0}
    )
    await client.post(f"{backends.urls['tickets']}/v1/tickets", json=TICKET,
                      headers={"X-API-Key": API_KEY})  # fmt: skip
    for _ in range(100):
        if backends.deliveries:
            break
        await asyncio.sleep(0.02)
    [delivery] = backends.deliveries
    assert delivery.status_code is None and delivery.error
    again = await client.get(f"{backends.urls['tickets']}/v1/tickets/jobs/JOB-000001",
                             headers={"X-API-Key": API_KEY})  # fmt: skip
    assert again.json()["status"] == "completed"  # the server is still fine


async def test_pending_callbacks_are_cancelled_on_shutdown(
    client: httpx.AsyncClient, callbacks: Callbacks
) -> None:
    async with ReferenceBackends(api_key=API_KEY) as b:
        b.faults("tickets").add(
            {"kind": "accepted", "callbackUrl": callbacks.url, "callbackAfterMs": 60_000}
        )
        await client.post(f"{b.urls['tickets']}/v1/tickets", json=TICKET,
                          headers={"X-API-Key": API_KEY})  # fmt: skip
        assert b.webhooks.pending == 1
    assert b.webhooks.pending == 0 and callbacks.received == []


@pytest.mark.parametrize(
    ("spec", "pointer"),
    [
        ({"kind": "accepted", "callbackAfterMs": 10}, "/callbackUrl"),
        ({"kind": "accepted", "callbackUrl": "http://example.com/h", "callbackAfterMs": 1},
         "/callbackUrl"),
        ({"kind": "accepted", "callbackUrl": "ftp://127.0.0.1/h"}, "/callbackUrl"),
        ({"kind": "accepted", "callbackUrl": "http://127.0.0.1/h", "callbackAfterMs": -5},
         "/callbackAfterMs"),
    ],
)  # fmt: skip
async def test_accepted_spec_validation(
    backends: ReferenceBackends, client: httpx.AsyncClient, spec: dict[str, Any], pointer: str
) -> None:
    response = await client.post(f"{backends.urls['tickets']}/__faults", json=spec)
    assert response.status_code == 400 and response.json()["pointer"] == pointer
