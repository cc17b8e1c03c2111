"""ToxiproxyControl against the embedded server, a real one (if configured), and Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from harness.errors import UnreachableError
from harness.faults.client import ToxiproxyControl, ToxiproxyError, owner_suffix, resolve_url
from harness.faults.toxiproxy import EmbeddedToxiproxy
from tests.faults.proxy_helpers import Echo, connect, start_serve

ROOT = Path(__file__).resolve().parents[2]


async def _check_server(url: str, echo: Echo) -> None:
    """The behaviour the harness relies on, run against any Toxiproxy-compatible server."""
    control = ToxiproxyControl(url, run_id="check")
    other = ToxiproxyControl(url, run_id="other")
    try:
        proxy = await control.create_proxy("crm", echo.address)
        neighbour = await other.create_proxy("crm", echo.address)
        owner = owner_suffix()
        assert (proxy.name, neighbour.name) == (f"check-crm{owner}", f"other-crm{owner}")
        toxic = await control.add_toxic(proxy, "latency", attributes={"latency": 50})
        assert toxic.name == "latency_downstream"
        assert toxic.attributes == {"latency": 50, "jitter": 0}
        updated = await control.update_toxic(proxy, toxic.name, attributes={"jitter": 5})
        assert updated.attributes == {"latency": 50, "jitter": 5}
        reader, writer = await connect(proxy.listen)
        writer.write(b"hi")
        assert await asyncio.wait_for(reader.readexactly(2), 2) == b"hi"
        await control.set_enabled(proxy, False)
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
        await control.set_enabled(proxy, True)
        with pytest.raises(ToxiproxyError) as info:
            await control.add_toxic(proxy, "latency")
        assert info.value.status == 409
        await control.remove_toxic(proxy, toxic.name)
        assert await control.toxics(proxy) == []
        await control.cleanup()
        async with httpx.AsyncClient(base_url=url) as client:
            names = set((await client.get("/proxies")).json())
        assert names == {neighbour.name}  # this run's proxy gone, the other run's kept
    finally:
        await control.cleanup()
        await other.cleanup()


async def test_control_against_embedded_server(server: EmbeddedToxiproxy, echo: Echo) -> None:
    await _check_server(server.url, echo)


@pytest.mark.realtoxiproxy
@pytest.mark.skipif(not os.environ.get("TOXIPROXY_URL"), reason="TOXIPROXY_URL is not set")
async def test_control_against_real_server(echo: Echo) -> None:
    url = resolve_url()
    assert url is not None
    await _check_server(url, echo)


async def test_unreachable_server_names_the_url() -> None:
    control = ToxiproxyControl("http://127.0.0.1:9", run_id="r", timeout=2)
    with pytest.raises(UnreachableError, match=r"127\.0\.0\.1:9"):
        await control.create_proxy("x", "127.0.0.1:1")


def test_resolve_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOXIPROXY_URL", raising=False)
    assert resolve_url() is None
    monkeypatch.setenv("TOXIPROXY_URL", "http://127.0.0.1:8474")
    assert resolve_url() == "http://127.0.0.1:8474"
    assert resolve_url("http://127.0.0.1:1") == "http://127.0.0.1:1"


@pytest.fixture
async def cli_server() -> AsyncIterator[str]:
    process, url = await start_serve()
    yield url
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 10) == 128 + signal.SIGTERM


RUN = textwrap.dedent(
    """
    import asyncio, sys
    from harness.faults.client import ToxiproxyControl, cleanup_on_signals

    async def main(url, upstream):
        control = ToxiproxyControl(url, run_id="sigint")
        async with cleanup_on_signals(control):
            for name in ("a", "b"):
                proxy = await control.create_proxy(name, upstream)
                await control.add_toxic(proxy, "latency", attributes={"latency": 5})
            print("ready", flush=True)
            await asyncio.sleep(60)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def test_sigint_halfway_leaves_nothing(cli_server: str, echo: Echo) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN,
        cli_server,
        echo.address,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert await asyncio.wait_for(process.stdout.readline(), 10) == b"ready\n"
    async with httpx.AsyncClient(base_url=cli_server) as client:
        names = {n.partition("@")[0] for n in (await client.get("/proxies")).json()}
        assert names == {"sigint-a", "sigint-b"}
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 10)
        assert process.returncode != 0  # KeyboardInterrupt still ends the program
        assert (await client.get("/proxies")).json() == {}


def test_cli_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "a", "upstream": "127.0.0.1:1", "lisen": "x"}]))
    result = subprocess.run(
        [sys.executable, "-m", "harness", "toxiproxy", "serve", "--port", "0", "--config", config],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert (
        str(config) in lines[0] and "#/0/lisen" in lines[0] and "did you mean 'listen'" in lines[0]
    )


async def test_cli_config_creates_proxies(tmp_path: Path, echo: Echo) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "a", "upstream": echo.address}]))
    process, url = await start_serve("--config", str(config))
    async with httpx.AsyncClient(base_url=url) as client:
        assert list((await client.get("/proxies")).json()) == ["a"]
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 10) == 128 + signal.SIGINT
