"""``toxiproxy serve`` input: the API address and the ``--config`` file."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from pathlib import Path

import pytest

from harness.errors import ConfigError, HarnessError, UnsafeTargetError
from harness.faults.toxiproxy import EmbeddedToxiproxy, Limits, check_serve_options, load_config
from harness.faults.toxiproxy import serve as serve_forever
from tests.faults.proxy_helpers import start_serve

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("port", [-1, 65536, 10**6])
def test_port_out_of_range(port: int) -> None:
    with pytest.raises(HarnessError, match=f"--port {port} is out of range"):
        check_serve_options("127.0.0.1", port, allow_non_loopback=False)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.5"])
def test_loopback_hosts_pass_quietly(host: str) -> None:
    assert check_serve_options(host, 0, allow_non_loopback=False) == []


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "ci-runner.example"])
def test_other_hosts_need_permission_and_then_warn(host: str) -> None:
    with pytest.raises(UnsafeTargetError, match="--allow-non-loopback"):
        check_serve_options(host, 8474, allow_non_loopback=False)
    (warning,) = check_serve_options(host, 8474, allow_non_loopback=True)
    assert host in warning and "reachable from other hosts" in warning


def test_empty_host_is_an_error() -> None:
    with pytest.raises(HarnessError, match="--host is empty"):
        check_serve_options("", 0, allow_non_loopback=True)


async def test_port_in_use_is_a_harness_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(HarnessError, match=f"cannot listen on 127.0.0.1:{port}: "):
            async with EmbeddedToxiproxy(port=port):
                pass


@pytest.mark.parametrize("port", [-1, 65536])
async def test_embedded_server_refuses_a_port_out_of_range(port: int) -> None:
    with pytest.raises(HarnessError, match=f"port {port} is out of range"):
        await EmbeddedToxiproxy(port=port).start()


async def test_unresolvable_host_is_a_harness_error() -> None:
    # An empty label fails in the IDNA codec, before any DNS query leaves the machine.
    server = EmbeddedToxiproxy(host="bad..host", limits=Limits(allow_non_loopback=True))
    with pytest.raises(HarnessError, match="cannot resolve 'bad..host'"):
        await server.start()


def _config(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "toxiproxy.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


BAD_CONFIGS = [
    (b'[{"name": "caf\xe9"}]', "", "not UTF-8 (byte 14 is 0xe9)"),
    ("[" * 100_000 + "]" * 100_000, "", "nested too deeply"),
    ('[{"name": "a", "upstream": "127.0.0.1:1", "enabled": NaN}]', "", "NaN is not JSON"),
    ("[1" + "0" * 5000 + "]", "", "not valid JSON"),
    ('{"name": "a"}', "/", "expected a list of proxies"),
    ("[1]", "/0", "expected an object"),
    ('[{"name": "a", "upstream": "127.0.0.1:1"}, {"name": ""}]', "/1/name", "'name' is required"),
    ('[{"name": "a", "upstream": 5}]', "/0/upstream", "'upstream' is required"),
    ('[{"name": "a", "upstream": "x:1", "listen": 5}]', "/0/listen", "'listen' must be"),
    ('[{"name": "a", "upstream": "x:1", "enabled": 1}]', "/0/enabled", "'enabled' must be"),
    ('[{"name": "a", "upstrem": "x:1"}]', "/0/upstrem", "did you mean 'upstream'?"),
    ('[{"name": "a", "up/str~": "x:1"}]', "/0/up~1str~0", "unknown key"),
    ("[{]", "", "not valid JSON: Expecting property name enclosed in double quotes (line 1"),
]


@pytest.mark.parametrize(("content", "pointer", "message"), BAD_CONFIGS, ids=range(13))
def test_bad_config_names_the_file_and_pointer(
    tmp_path: Path, content: str | bytes, pointer: str, message: str
) -> None:
    path = _config(tmp_path, content)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    assert info.value.pointer == pointer
    assert message in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("entry", "pointer"),
    [
        ({"name": "b", "upstream": "127.0.0.1:1", "listen": "0.0.0.0:0"}, "/1/listen"),
        ({"name": "b", "upstream": "127.0.0.1:1", "listen": "nowhere"}, "/1/listen"),
    ],
)
async def test_serve_reports_the_config_entry_it_cannot_create(
    tmp_path: Path, entry: dict[str, str], pointer: str
) -> None:
    path = _config(tmp_path, json.dumps([{"name": "a", "upstream": "127.0.0.1:1"}, entry]))
    ready: list[str] = []
    with pytest.raises(ConfigError) as info:
        await asyncio.wait_for(serve_forever("127.0.0.1", 0, path, on_ready=ready.append), 10)
    assert info.value.pointer == pointer and info.value.file == str(path)
    assert ready == []


async def test_serve_refuses_a_non_loopback_host() -> None:
    with pytest.raises(UnsafeTargetError):
        await serve_forever("0.0.0.0", 0, None)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
async def test_a_stop_signal_with_clients_mid_request_prints_no_traceback(
    signum: signal.Signals,
) -> None:
    process, url = await start_serve(stderr=True)
    host, _, port = url.removeprefix("http://").rpartition(":")
    clients = []
    for request in (
        b"POST /proxies HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{",
        b"GET /prox",
        b"",
    ):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        clients.append((reader, writer))
    await asyncio.sleep(0.2)
    process.send_signal(signum)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    for _, writer in clients:
        writer.close()
    # A clean stop by signal N is exit 128 + N (it was 0, and -1 for SIGHUP: killed).
    assert process.returncode == 128 + signum
    assert b"Exception in ASGI application" not in stderr
    assert b"Traceback" not in stderr, stderr.decode()


async def test_a_non_loopback_listen_in_the_config_names_the_real_flag(tmp_path: Path) -> None:
    entry = {"name": "a", "upstream": "redis:6379", "listen": "[::]:0"}
    path = _config(tmp_path, json.dumps([entry]))
    with pytest.raises(ConfigError) as info:
        await asyncio.wait_for(serve_forever("127.0.0.1", 0, path), 10)
    assert info.value.pointer == "/0/listen"
    assert "--allow-non-loopback" in str(info.value) and "allow_non_loopback" not in str(info.value)
