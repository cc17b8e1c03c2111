"""A team's own backends: a stub from its spec, a proxy in front of its server, every fault."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.asgi_server import LoopbackServer
from harness.backends.openapi_examples import load_operations
from harness.backends.own import OwnBackends
from harness.clock import RealClock
from harness.config import BackendEntry
from harness.errors import ConfigError, UnreachableError
from tests.fixtures.own_ivr import HOST, SPEC

KEY = {"X-API-Key": "k-1"}


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "orders.yaml"
    path.write_text(SPEC)
    return path


@pytest.fixture
async def stub(spec: Path) -> AsyncIterator[OwnBackends]:
    entries = {HOST: BackendEntry(host=HOST, spec=spec)}
    async with OwnBackends(entries, clock=RealClock()) as own:
        yield own


async def test_generated_bodies_are_deterministic_per_seed(spec: Path) -> None:
    first = load_operations(spec, seed=3)[1][0].body
    assert first == load_operations(spec, seed=3)[1][0].body
    assert set(first) == {"id", "status", "items"}
    assert first["status"] == "shipped"  # the first enum value: plausible, stable


async def test_stub_serves_the_operation_and_enforces_the_api_key(stub: OwnBackends) -> None:
    async with httpx.AsyncClient(base_url=stub.urls[HOST]) as client:
        ok = await client.get("/v1/orders/1234", headers=KEY)
        missing = await client.get("/v1/orders/1234")
        blank = await client.get("/v1/orders/1234", headers={"X-API-Key": ""})
        unknown = await client.get("/v1/other", headers=KEY)
    assert ok.status_code == 200 and ok.json()["status"] == "shipped"
    assert missing.status_code == 401 and "X-API-Key" in missing.json()["message"]
    assert blank.status_code == 401
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("fault", "status", "check"),
    [
        ({"kind": "status", "status": 503}, 503, lambda r: True),
        ({"kind": "empty"}, 200, lambda r: r.json()["items"] == []),
        ({"kind": "accepted"}, 202, lambda r: r.headers["location"].startswith("/jobs/")),
        ({"kind": "rotate_scopes", "scopes": ["orders:v2"]}, 403, lambda r: True),
        ({"kind": "rate_limit", "retry_after": 1}, 429, lambda r: r.headers["retry-after"] == "1"),
        ({"kind": "malformed"}, 200, lambda r: r.text.endswith("{")),
        ({"kind": "oversized", "bytes": 40_000}, 200, lambda r: len(r.content) > 40_000),
        (
            {"kind": "rename_field", "from": "status", "to": "state"},
            200,
            lambda r: "state" in r.json(),
        ),  # noqa: E501
    ],
)
async def test_every_fault_kind_applies_to_a_stub(
    stub: OwnBackends, fault: dict[str, object], status: int, check: object
) -> None:
    stub.faults(HOST).add(fault)
    async with httpx.AsyncClient(base_url=stub.urls[HOST]) as client:
        response = await client.get("/v1/orders/1234", headers=KEY)
    assert response.status_code == status
    assert check(response)  # type: ignore[operator]


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    async def order(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["id"], "status": "pending", "items": [1]})

    server = LoopbackServer(Starlette(routes=[Route("/v1/orders/{id}", order)]), name="up")
    url = await server.start()
    try:
        yield url
    finally:
        await server.stop()


async def test_proxy_forwards_and_injects_the_same_faults(upstream: str) -> None:
    entries = {HOST: BackendEntry(host=HOST, base_url=upstream)}
    async with OwnBackends(entries, clock=RealClock()) as own:
        assert own.kinds[HOST] == "proxy"
        async with httpx.AsyncClient(base_url=own.urls[HOST]) as client:
            passed = await client.get("/v1/orders/77?x=1")
            own.faults(HOST).add({"kind": "status", "status": 502, "times": 1})
            stormed = await client.get("/v1/orders/77")
            own.faults(HOST).add({"kind": "empty", "times": 1})
            emptied = await client.get("/v1/orders/77")
    assert passed.json() == {"id": "77", "status": "pending", "items": [1]}
    assert stormed.status_code == 502
    assert json.loads(emptied.content)["items"] == []
    assert [r.faults for r in own.requests(HOST)] == [(), ("status",), ()]


async def test_an_unreachable_upstream_is_a_harness_error_before_anything_runs() -> None:
    entries = {HOST: BackendEntry(host=HOST, base_url="http://127.0.0.1:9")}
    with pytest.raises(UnreachableError, match="api.orders.example.com at http://127.0.0.1:9"):
        async with OwnBackends(entries, clock=RealClock()):
            pass


async def test_a_remote_ref_names_the_file_and_pointer(tmp_path: Path) -> None:
    path = tmp_path / "remote.yaml"
    path.write_text(
        "openapi: 3.0.3\npaths:\n  /a:\n    get:\n      responses:\n"
        "        '200': {$ref: 'other.yaml#/r'}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_operations(path)
    assert info.value.pointer == "/paths/~1a/get/responses/200/$ref"


TRACE = "X-IVR-Harness-Trace"


async def test_the_journal_records_who_sent_what_and_never_a_credential(stub: OwnBackends) -> None:
    headers = {
        **KEY,
        TRACE: "call=call-7;step=order-status/http-get-order;attempt=2",
        "Idempotency-Key": "idem-1",
        "X-Custom-Token": "not-for-the-log",
        "X-Empty-Token": "",
    }
    async with httpx.AsyncClient(base_url=stub.urls[HOST]) as client:
        await client.post("/v1/orders/1?key=s3cret&page=2", headers=headers, content=b"{}")
        listed = (await client.get("/__requests")).json()["requests"]
    [entry] = stub.requests(HOST)
    assert (entry.call_id, entry.step, entry.attempt) == (
        "call-7",
        "order-status/http-get-order",
        2,
    )
    assert entry.idempotency_key == "idem-1"
    assert entry.body_sha256 == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    assert entry.header("x-api-key") == entry.header("x-custom-token") == "[redacted]"
    assert entry.header("x-empty-token") == ""  # nothing was sent, and the journal says so
    assert entry.header(TRACE.lower()) is None  # ours, not what the backend was sent
    assert entry.query == "key=[redacted]&page=2"
    assert "s3cret" not in str(listed) and "k-1" not in str(listed)


async def test_a_fault_aimed_at_a_step_hits_only_that_steps_requests(stub: OwnBackends) -> None:
    stub.faults(HOST).add({"kind": "status", "status": 503, "step": "http-book"})
    async with httpx.AsyncClient(base_url=stub.urls[HOST], headers=KEY) as client:
        other = await client.get(
            "/v1/orders/1", headers={TRACE: "call=c;step=f/http-get;attempt=1"}
        )
        aimed = await client.get(
            "/v1/orders/1", headers={TRACE: "call=c;step=f/http-book;attempt=1"}
        )
        untraced = await client.get("/v1/orders/1")
    assert [other.status_code, aimed.status_code, untraced.status_code] == [200, 503, 200]


async def test_the_proxy_never_forwards_the_trace_header(
    upstream_seen: tuple[str, list[dict[str, str]]],
) -> None:
    url, seen = upstream_seen
    async with OwnBackends({HOST: BackendEntry(host=HOST, base_url=url)}, clock=RealClock()) as own:
        async with httpx.AsyncClient(base_url=own.urls[HOST]) as client:
            await client.get("/v1/orders/7", headers={TRACE: "call=c;step=f/s;attempt=1"})
    assert seen and all(TRACE.lower() not in headers for headers in seen)
    assert own.requests(HOST)[0].call_id == "c"


@pytest.fixture
async def upstream_seen() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    async def order(request: Request) -> JSONResponse:
        seen.append(dict(request.headers))
        return JSONResponse({"id": request.path_params["id"], "status": "pending"})

    server = LoopbackServer(Starlette(routes=[Route("/v1/orders/{id}", order)]), name="up")
    url = await server.start()
    try:
        yield url, seen
    finally:
        await server.stop()


async def test_an_upstream_that_dies_mid_run_is_a_gateway_answer() -> None:
    server = LoopbackServer(Starlette(routes=[]), name="up")
    entries = {HOST: BackendEntry(host=HOST, base_url=await server.start())}
    async with OwnBackends(entries, clock=RealClock()) as own:  # the probe passes
        await server.stop()
        async with httpx.AsyncClient(base_url=own.urls[HOST]) as client:
            answer = await client.get("/v1/orders/1")
    assert answer.status_code == 502
    assert answer.json() == {"error": "bad_gateway", "message": "ConnectError"}
