"""Numbers in toxic bodies, decoded by Go's rules: int64 attributes, a float32 toxicity.

The first cases are what Toxiproxy's own decoder refuses (checked against the real
server when TOXIPROXY_TEST_SERVER_URL is set); the last are values Toxiproxy accepts
but misreads (a negative latency is no latency), which the embedded server refuses.
"""

from __future__ import annotations

import json

import httpx
import pytest

from harness.faults.toxiproxy import EmbeddedToxiproxy
from tests.faults.conftest import REAL_SERVER, RealServer
from tests.faults.proxy_helpers import Echo

Server = EmbeddedToxiproxy | RealServer

GO_REFUSES = [
    b'{"type": "latency", "attributes": {"latency": 1e400}}',
    b'{"type": "latency", "attributes": {"latency": 1' + b"0" * 400 + b"}}",
    b'{"type": "latency", "attributes": {"latency": 1' + b"0" * 5000 + b"}}",
    b'{"type": "latency", "attributes": {"latency": 9223372036854775808}}',
    b'{"type": "latency", "attributes": {"latency": -9223372036854775809}}',
    b'{"type": "latency", "attributes": {"latency": 1e3}}',
    b'{"type": "latency", "attributes": {"latency": NaN}}',
    b'{"type": "latency", "attributes": {"jitter": Infinity}}',
    b'{"type": "latency", "attributes": {"jitter": -Infinity}}',
    b'{"type": "latency", "toxicity": NaN}',
    b'{"type": "latency", "toxicity": 1e400}',
    b'{"type": "latency", "toxicity": 1e39}',
    b'{"type": "latency", "toxicity": 1' + b"0" * 400 + b"}",
    b'{"type": "bandwidth", "attributes": {"rate": 1e400}}',
]

GO_ACCEPTS = [
    b'{"type": "latency", "attributes": {"latency": 9223372036854775807}}',
    b'{"type": "latency", "toxicity": 0}',
    b'{"type": "latency", "toxicity": 1}',
    b'{"type": "latency", "toxicity": 0.25}',
]

ONLY_HERE = [
    (b'{"type": "latency", "attributes": {"latency": -1}}', "attribute latency"),
    (b'{"type": "latency", "attributes": {"jitter": -5}}', "attribute jitter"),
    (b'{"type": "bandwidth", "attributes": {"rate": -1}}', "attribute rate"),
    (b'{"type": "latency", "toxicity": 1.5}', "toxicity"),
    (b'{"type": "latency", "toxicity": -0.1}', "toxicity"),
]


async def _post_toxic(server: Server, echo: Echo, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url) as client:
        await client.post("/proxies", json={"name": "p", "upstream": echo.address})
        return await client.post("/proxies/p/toxics", content=body)


def _assert_bad_body(response: httpx.Response) -> str:
    assert response.status_code == 400
    data = response.json()  # valid JSON: nothing unparseable is echoed back
    assert set(data) == {"error", "status"} and data["status"] == 400
    assert data["error"].startswith("bad request body: ")
    return str(data["error"])


@pytest.mark.parametrize("body", GO_REFUSES, ids=lambda b: b.decode()[:60])
async def test_numbers_gos_types_cannot_hold_are_400(
    server: Server, echo: Echo, body: bytes
) -> None:
    _assert_bad_body(await _post_toxic(server, echo, body))


@pytest.mark.parametrize("body", GO_ACCEPTS, ids=lambda b: b.decode())
async def test_numbers_gos_types_hold_are_accepted(server: Server, echo: Echo, body: bytes) -> None:
    response = await _post_toxic(server, echo, body)
    assert response.status_code == 200


async def test_go_error_text_for_an_int64_overflow(server: Server, echo: Echo) -> None:
    body = b'{"type": "latency", "toxicity": 1e400}'
    message = _assert_bad_body(await _post_toxic(server, echo, body))
    assert message == (
        "bad request body: json: cannot unmarshal number 1e400 into Go struct field "
        "ToxicWrapper.toxicity of type float32"
    )


@pytest.mark.skipif(bool(REAL_SERVER), reason="Toxiproxy takes these values (and misreads them)")
@pytest.mark.parametrize(("body", "what"), ONLY_HERE, ids=lambda v: str(v)[:50])
async def test_nonsense_numbers_are_refused_here(
    server: Server, echo: Echo, body: bytes, what: str
) -> None:
    message = _assert_bad_body(await _post_toxic(server, echo, body))
    assert message.startswith(f"bad request body: {what} must")
    async with httpx.AsyncClient(base_url=server.url) as client:
        toxic_type = json.loads(body)["type"]
        await client.post("/proxies/p/toxics", json={"type": toxic_type, "name": "t"})
        patched = await client.patch("/proxies/p/toxics/t", content=body)
    _assert_bad_body(patched)
