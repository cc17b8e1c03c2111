"""Cases from Toxiproxy 2.12.0's own ``api_test.go``, as its Go client sees them.

Each runs against the embedded server, and against a real Toxiproxy when
TOXIPROXY_TEST_SERVER_URL names one (see conftest.py).
"""

from __future__ import annotations

import asyncio
import re
import socket

import httpx
import pytest

from harness.faults.toxiproxy import EmbeddedToxiproxy
from tests.faults.conftest import RealServer
from tests.faults.proxy_helpers import Echo, connect

Server = EmbeddedToxiproxy | RealServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_request_id_header_on_every_routed_response(server: Server) -> None:
    # TestRequestId; the id is zerolog's xid: 20 characters of lower-case base32hex.
    async with httpx.AsyncClient(base_url=server.url, headers={"User-Agent": "curl"}) as client:
        answers = [
            await client.get("/version"),
            await client.get("/proxies"),
            await client.get("/proxies/ghost"),
            await client.get("/proxies", headers={"User-Agent": "Mozilla/5.0"}),
        ]
    ids = [answer.headers.get("X-Toxiproxy-Request-Id", "") for answer in answers]
    assert [answer.status_code for answer in answers] == [200, 200, 404, 403]
    assert all(re.fullmatch(r"[0-9a-v]{20}", i) for i in ids), ids
    assert len(set(ids)) == len(ids)


async def test_populate_keeps_an_existing_proxy_named_by_hostname(
    server: Server, echo: Echo
) -> None:
    # TestPopulateExistingProxy: localhost:P is 127.0.0.1:P, so "one" is kept as it is.
    one, two, two_again = free_port(), free_port(), free_port()
    async with httpx.AsyncClient(base_url=server.url) as client:
        body = {"name": "one", "listen": f"localhost:{one}", "upstream": echo.address}
        assert (await client.post("/proxies", json=body)).status_code == 201
        body = {"name": "two", "listen": f"localhost:{two}", "upstream": echo.address}
        assert (await client.post("/proxies", json=body)).status_code == 201
        await client.post("/proxies/one/toxics", json={"type": "latency"})
        reader, writer = await connect(f"127.0.0.1:{one}")
        writer.write(b"kept")
        assert await asyncio.wait_for(reader.readexactly(4), 2) == b"kept"
        populated = await client.post(
            "/populate",
            json=[
                {"name": "one", "listen": f"localhost:{one}", "upstream": echo.address},
                {"name": "two", "listen": f"127.0.0.1:{two_again}", "upstream": echo.address},
            ],
        )
        assert populated.status_code == 201
        listens = [p["listen"] for p in populated.json()["proxies"]]
        assert listens == [f"127.0.0.1:{one}", f"127.0.0.1:{two_again}"]
        toxics = (await client.get("/proxies/one/toxics")).json()
        assert [t["type"] for t in toxics] == ["latency"]
        writer.write(b"still")  # the client's connection survived the populate
        assert await asyncio.wait_for(reader.readexactly(5), 2) == b"still"
        writer.close()
        with pytest.raises(ConnectionRefusedError):
            await connect(f"127.0.0.1:{two}")


async def test_populate_with_bad_data_keeps_and_returns_the_proxies_before_it(
    server: Server, echo: Echo
) -> None:
    # TestPopulateProxyWithBadDataShouldReturnError, with the body the Go client parses.
    one, three = free_port(), free_port()
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            "/populate",
            json=[
                {"name": "one", "listen": f"localhost:{one}", "upstream": echo.address},
                {"name": "two", "listen": "local373", "upstream": echo.address},
                {"name": "three", "listen": f"localhost:{three}", "upstream": echo.address},
            ],
        )
        proxies = (await client.get("/proxies")).json()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert list(data) == ["error", "status", "proxies"]
    assert data["error"] == "listen tcp: address local373: missing port in address"
    assert data["status"] == 500
    assert data["proxies"] == [proxies["one"]]
    assert proxies["one"]["listen"] == f"127.0.0.1:{one}"
    assert set(proxies) == {"one"}


async def test_port_conflict_names_the_resolved_address_and_gos_bind_error(
    server: Server, echo: Echo
) -> None:
    # TestCreateProxyPortConflict
    port = free_port()
    async with httpx.AsyncClient(base_url=server.url) as client:
        first = {"name": "mysql_master", "listen": f"localhost:{port}", "upstream": echo.address}
        assert (await client.post("/proxies", json=first)).status_code == 201
        second = {**first, "name": "test"}
        conflict = await client.post("/proxies", json=second)
        assert conflict.status_code == 500
        assert conflict.json() == {
            "error": f"listen tcp 127.0.0.1:{port}: bind: address already in use",
            "status": 500,
        }
        assert (await client.delete("/proxies/mysql_master")).status_code == 204
        assert (await client.post("/proxies", json=second)).status_code == 201


async def test_disabled_proxy_keeps_its_listen_address_as_given(server: Server, echo: Echo) -> None:
    # TestCreateDisabledProxy
    port = free_port()
    body = {"name": "m", "listen": f"localhost:{port}", "upstream": echo.address, "enabled": False}
    async with httpx.AsyncClient(base_url=server.url) as client:
        created = await client.post("/proxies", json=body)
        assert created.status_code == 201
        shown = (await client.get("/proxies/m")).json()
    assert shown["listen"] == f"localhost:{port}" and shown["enabled"] is False
    with pytest.raises(ConnectionRefusedError):
        await connect(f"127.0.0.1:{port}")


async def test_disabled_proxy_with_unusable_listen_address_is_created(server: Server) -> None:
    # Toxiproxy only resolves the address when the proxy is enabled: 201 now, 500 then.
    body = {"name": "n", "listen": "nowhere", "upstream": "127.0.0.1:1", "enabled": False}
    async with httpx.AsyncClient(base_url=server.url) as client:
        created = await client.post("/proxies", json=body)
        assert created.status_code == 201
        assert created.json()["listen"] == "nowhere"
        enabled = await client.patch("/proxies/n", json={"enabled": True})
    assert enabled.status_code == 500
    assert enabled.json() == {"error": "address nowhere: missing port in address", "status": 500}
