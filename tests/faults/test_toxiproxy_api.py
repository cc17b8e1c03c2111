"""The HTTP API, driven through toxiproxy-python (and raw httpx for error bodies)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from toxiproxy import Toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from harness.faults.toxiproxy import EmbeddedToxiproxy
from tests.faults.proxy_helpers import Echo, connect, sync


async def test_create_list_get_and_destroy(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await sync(tp.create, upstream=echo.address, name="redis")
    assert proxy.enabled is True
    assert proxy.listen.startswith("127.0.0.1:") and not proxy.listen.endswith(":0")
    proxies = await sync(tp.proxies)
    assert list(proxies) == ["redis"] and proxies["redis"].upstream == echo.address
    assert (await sync(tp.get_proxy, "redis")).listen == proxy.listen
    assert await sync(tp.destroy, proxy) is True
    assert await sync(tp.proxies) == {}


async def test_proxy_passes_data(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await sync(tp.create, upstream=echo.address, name="echo")
    reader, writer = await connect(proxy.listen)
    writer.write(b"ping")
    assert await reader.readexactly(4) == b"ping"
    writer.close()


async def test_duplicate_proxy_is_409(tp: Toxiproxy, echo: Echo, server: EmbeddedToxiproxy) -> None:
    await sync(tp.create, upstream=echo.address, name="dup")
    with pytest.raises(ProxyExists):
        # toxiproxy-python checks the list first; POST directly to see the server's answer.
        from toxiproxy.api import APIConsumer

        await sync(APIConsumer.post, "/proxies", json={"name": "dup", "upstream": echo.address})
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post("/proxies", json={"name": "dup", "upstream": echo.address})
    assert response.status_code == 409
    assert response.json() == {"error": "proxy already exists", "status": 409}


async def test_toxics_through_client(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await sync(tp.create, upstream=echo.address, name="p")
    await sync(proxy.add_toxic, type="latency", attributes={"latency": 10})
    await sync(proxy.add_toxic, type="bandwidth", stream="upstream", attributes={"rate": 5})
    toxics = await sync(proxy.toxics)
    assert set(toxics) == {"latency_downstream", "bandwidth_upstream"}
    assert toxics["latency_downstream"].attributes == {"latency": 10, "jitter": 0}
    assert toxics["bandwidth_upstream"].stream == "upstream"
    with pytest.raises(ProxyExists):
        await sync(proxy.add_toxic, type="latency", attributes={"latency": 10})
    with pytest.raises(InvalidToxic):
        await sync(proxy.add_toxic, type="lag")
    assert await sync(proxy.destroy_toxic, "latency_downstream") is True
    with pytest.raises(NotFound):
        await sync(proxy.destroy_toxic, "latency_downstream")
    assert set(await sync(proxy.toxics)) == {"bandwidth_upstream"}


async def test_disable_refuses_and_closes_and_keeps_port(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await sync(tp.create, upstream=echo.address, name="p")
    reader, writer = await connect(proxy.listen)
    writer.write(b"x")
    assert await reader.readexactly(1) == b"x"
    await sync(proxy.disable)
    assert await asyncio.wait_for(reader.read(), 1) == b""
    writer.close()
    with pytest.raises(ConnectionRefusedError):
        await connect(proxy.listen)
    await sync(proxy.enable)
    assert (await sync(tp.get_proxy, "p")).listen == proxy.listen
    reader, writer = await connect(proxy.listen)
    writer.write(b"y")
    assert await reader.readexactly(1) == b"y"
    writer.close()


async def test_reset_enables_and_clears_toxics_keeping_port(tp: Toxiproxy, echo: Echo) -> None:
    proxy = await sync(tp.create, upstream=echo.address, name="p")
    await sync(proxy.add_toxic, type="timeout", attributes={"timeout": 0})
    await sync(proxy.disable)
    assert await sync(tp.reset) is True
    after = await sync(tp.get_proxy, "p")
    assert after.enabled is True and after.listen == proxy.listen
    assert await sync(after.toxics) == {}


async def test_populate_creates_and_keeps_identical(tp: Toxiproxy, echo: Echo) -> None:
    spec = [{"name": "a", "upstream": echo.address, "listen": "127.0.0.1:0"}]
    created = await sync(tp.populate, spec)
    assert [p.name for p in created] == ["a"]
    assert set(await sync(tp.proxies)) == {"a"}


async def test_version(tp: Toxiproxy) -> None:
    assert json.loads(await sync(tp.version)) == {"version": "2.12.0"}


ERRORS = [
    ("POST", "/proxies", {"upstream": "127.0.0.1:1"}, 400, "missing required field: name"),
    ("POST", "/proxies", {"name": "x"}, 400, "missing required field: upstream"),
    ("GET", "/proxies/ghost", None, 404, "proxy not found"),
    ("PATCH", "/proxies/ghost", {"enabled": False}, 404, "proxy not found"),
    ("POST", "/proxies/ghost", {"enabled": False}, 404, "proxy not found"),
    ("DELETE", "/proxies/ghost", None, 404, "proxy not found"),
    ("GET", "/proxies/ghost/toxics", None, 404, "proxy not found"),
    ("POST", "/proxies/ghost/toxics", {"type": "latency"}, 404, "proxy not found"),
    ("GET", "/proxies/p/toxics/ghost", None, 404, "toxic not found"),
    ("PATCH", "/proxies/p/toxics/ghost", {}, 404, "toxic not found"),
    ("DELETE", "/proxies/p/toxics/ghost", None, 404, "toxic not found"),
    ("POST", "/proxies/p/toxics", {"type": "lag"}, 400, "invalid toxic type"),
    (
        "POST",
        "/proxies/p/toxics",
        {"type": "latency", "stream": "sideways"},
        400,
        "stream was invalid, can be either upstream or downstream",
    ),
    ("POST", "/proxies/p/toxics", {"type": "noop", "name": "taken"}, 409, "toxic already exists"),
    (
        "POST",
        "/populate",
        [{"upstream": "127.0.0.1:1"}],
        400,
        "missing required field: name at proxy 1",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), ERRORS)
async def test_error_status_and_body(
    server: EmbeddedToxiproxy,
    echo: Echo,
    method: str,
    path: str,
    body: object,
    status: int,
    message: str,
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        await client.post("/proxies", json={"name": "p", "upstream": echo.address})
        await client.post("/proxies/p/toxics", json={"type": "noop", "name": "taken"})
        response = await client.request(method, path, json=body)
    assert response.status_code == status
    if path == "/populate":
        # Toxiproxy answers populate failures as JSON, with the proxies done so far.
        assert response.json() == {"error": message, "status": status, "proxies": None}
        assert response.headers["content-type"].startswith("application/json")
    else:
        assert response.json() == {"error": message, "status": status}
        assert response.text.endswith("\n")


async def test_status_codes_and_shapes(server: EmbeddedToxiproxy, echo: Echo) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        created = await client.post("/proxies", json={"name": "p", "upstream": echo.address})
        assert created.status_code == 201
        # Toxiproxy 2.12 also serialises an empty, untagged "Logger" field.
        assert set(created.json()) == {"name", "listen", "upstream", "enabled", "Logger", "toxics"}
        toxic = await client.post(
            "/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": 5}}
        )
        assert toxic.status_code == 200
        assert toxic.json() == {
            "attributes": {"latency": 5, "jitter": 0},
            "name": "latency_downstream",
            "type": "latency",
            "stream": "downstream",
            "toxicity": 1.0,
        }
        merged = await client.patch(
            "/proxies/p/toxics/latency_downstream", json={"attributes": {"jitter": 2}}
        )
        assert merged.json()["attributes"] == {"latency": 5, "jitter": 2}
        posted = await client.post("/proxies/p/toxics/latency_downstream", json={"toxicity": 0.5})
        assert posted.json()["attributes"] == {"latency": 5, "jitter": 2}
        assert posted.json()["toxicity"] == 0.5
        shown = await client.get("/proxies/p")
        assert shown.json()["toxics"] == [posted.json()]
        assert (await client.delete("/proxies/p/toxics/latency_downstream")).status_code == 204
        assert (await client.post("/reset")).status_code == 204
        populated = await client.post("/populate", json=[{"name": "q", "upstream": echo.address}])
        assert populated.status_code == 201
        assert [p["name"] for p in populated.json()["proxies"]] == ["q"]
        assert (await client.delete("/proxies/p")).status_code == 204


async def test_listen_port_kept_when_created_with_port_zero(
    server: EmbeddedToxiproxy, echo: Echo
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        created = await client.post("/proxies", json={"name": "p", "upstream": echo.address})
        listen = created.json()["listen"]
        await client.patch("/proxies/p", json={"enabled": False})
        disabled = await client.get("/proxies/p")
        assert disabled.json()["listen"] == listen and disabled.json()["enabled"] is False
        await client.post("/reset")
        assert (await client.get("/proxies/p")).json() == {**disabled.json(), "enabled": True}


MALFORMED = [
    ("POST", "/proxies", b""),
    ("POST", "/proxies", b"{"),
    ("POST", "/proxies", b"[]"),
    ("POST", "/proxies", b'"text"'),
    ("POST", "/proxies", b'{"name": 5, "upstream": "127.0.0.1:1"}'),
    ("POST", "/proxies", b'{"name": "n", "upstream": "127.0.0.1:1", "enabled": "yes"}'),
    ("POST", "/proxies", b"\xff\xfe"),
    ("PATCH", "/proxies/p", b"nope"),
    ("PATCH", "/proxies/p", b'{"enabled": 1}'),
    ("POST", "/populate", b'{"name": "x"}'),
    ("POST", "/populate", b"[1]"),
    ("POST", "/proxies/p/toxics", b"{]"),
    ("POST", "/proxies/p/toxics", b'{"type": "latency", "attributes": {"latency": "10"}}'),
    ("POST", "/proxies/p/toxics", b'{"type": "latency", "attributes": {"latency": 1.5}}'),
    ("POST", "/proxies/p/toxics", b'{"type": "latency", "attributes": [1]}'),
    ("POST", "/proxies/p/toxics", b'{"type": "latency", "toxicity": "high"}'),
    ("PATCH", "/proxies/p/toxics/t", b'{"attributes": {"latency": true}}'),
    ("PATCH", "/proxies/p/toxics/t", b""),
]


@pytest.mark.parametrize(("method", "path", "body"), MALFORMED)
async def test_malformed_request_is_a_toxiproxy_400(
    server: EmbeddedToxiproxy, echo: Echo, method: str, path: str, body: bytes
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        await client.post("/proxies", json={"name": "p", "upstream": echo.address})
        await client.post("/proxies/p/toxics", json={"type": "latency", "name": "t"})
        response = await client.request(method, path, content=body)
        assert response.status_code == 400
        data = response.json()
        assert data["status"] == 400 and data["error"].startswith("bad request body")
        # The server is still fine afterwards.
        assert (await client.get("/proxies")).status_code == 200


async def test_garbled_http_gets_400_not_a_dropped_connection(server: EmbeddedToxiproxy) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400")


async def test_unusable_listen_address_is_a_500_like_toxiproxy(
    server: EmbeddedToxiproxy,
) -> None:
    # Toxiproxy only fails at listen(2) and answers 500 with Go's net error.
    async with httpx.AsyncClient(base_url=server.url) as client:
        body = {"name": "n", "upstream": "127.0.0.1:1", "listen": "nowhere"}
        response = await client.post("/proxies", json=body)
    assert response.status_code == 500
    assert response.json() == {
        "error": "listen tcp: address nowhere: missing port in address",
        "status": 500,
    }


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("POST", "/populate", 201), ("POST", "/proxies", 400), ("POST", "/proxies/p/toxics", 400)],
)
async def test_json_null_body_means_no_fields_as_in_go(
    server: EmbeddedToxiproxy, echo: Echo, method: str, path: str, status: int
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        await client.post("/proxies", json={"name": "p", "upstream": echo.address})
        response = await client.request(method, path, content=b"null")
    assert response.status_code == status


async def test_head_and_trailing_slash_are_not_served(server: EmbeddedToxiproxy) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.head("/proxies")).status_code == 405
        assert (await client.get("/proxies/")).status_code == 404
