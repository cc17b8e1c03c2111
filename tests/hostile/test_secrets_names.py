"""Issue 20 #10 (secrets), #11 (OAuth secrets with %), #13 (names with /), #14 (git
options), #16 (the smaller ones): each over the wire or the command line."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.asgi_server import LoopbackServer
from harness.backends.server import ReferenceBackends
from harness.contract.auth import OAuthClient, fetch_token
from harness.faults.toxiproxy import EmbeddedToxiproxy
from tests.fixtures.cli_run import ROOT, assert_one_line_error, run_cli
from tests.hostile.helpers import HARDENED, assert_clean, hostile_flows, url

SECRET = "S3cretPW-7f1c"


def test_a_url_userinfo_password_never_reaches_call_json(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "one.json").write_text(
        json.dumps(
            {
                "id": "one", "name": "one", "flowType": "IVR",
                "steps": [
                    {
                        "id": "http", "type": "HTTPRequest", "nextStepId": "bye",
                        "configuration": {
                            "url": f"http://ivr:{SECRET}@api.test/x", "method": "GET",
                            "timeout": 1000,
                        },
                    },
                    {"id": "bye", "type": "Hangup", "configuration": {}},
                ],
            }
        )
    )  # fmt: skip
    result = run_cli(
        "call", str(flows), "--flow", "one", "--skip-audio", "--json",
        "--base-url", "api.test=http://127.0.0.1:9",
    )  # fmt: skip
    assert_clean(result, 0)
    assert "ivr:***@api.test" in result.stdout
    assert SECRET not in result.stdout + result.stderr


async def test_backend_request_log_redacts_secret_query_parameters() -> None:
    async with ReferenceBackends(clients={"ivr": "pw"}, api_key="k") as backends:
        crm = backends.urls["crm"]
        async with httpx.AsyncClient(trust_env=False) as client:
            await client.get(f"{crm}/v2/accounts", params={"phone": "+1415", "key": SECRET})
            log = (await client.get(f"{crm}/__requests")).text
    assert SECRET not in log
    assert "key=[redacted]" in log and "phone=%2B1415" in log


@pytest.mark.parametrize("secret", ["Zq+/=&%x", "Zq+/=&%2Fx", "a b%20c", "plain"])
async def test_oauth_secrets_are_form_encoded_both_ways(secret: str) -> None:
    """RFC 6749 2.3.1: client id and secret are form-urlencoded before Basic auth, and
    decoded so on the server; a raw '%' or '+' used to fail with 401 against our own."""
    async with ReferenceBackends(clients={"ivr client": secret}, api_key="k") as backends:
        client = OAuthClient(
            token_url=f"{backends.urls['oauth']}/oauth/token", client_id="ivr client", secret=secret
        )
        token = await asyncio.to_thread(fetch_token, client)
    assert token


def test_a_flow_id_with_a_slash_is_refused_where_it_is_read(tmp_path: Path) -> None:
    def edit(doc: dict[str, object], http: object, router: object) -> None:
        doc["id"] = "../../x"

    flows = hostile_flows(tmp_path / "flows", edit)
    result = run_cli("lint", str(flows))
    assert_one_line_error(result, "#/id: flow id '../../x' cannot be used: it contains '/'")


async def test_the_toxiproxy_api_refuses_a_name_it_could_never_address() -> None:
    async with EmbeddedToxiproxy() as server:
        async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
            body = {"name": "../../x", "upstream": "127.0.0.1:9"}
            made = await client.post("/proxies", json=body)
            populated = await client.post("/populate", json=[{"name": "a/b", "upstream": "x:1"}])
            listed = (await client.get("/proxies")).json()
            # A listen port Go cannot parse is Toxiproxy's 500 (api.go: a listen error
            # carries no status), with Go's message: the same here.
            port = await client.post(
                "/proxies", json={"name": "p", "upstream": "127.0.0.1:9", "listen": ":999999"}
            )
    assert made.status_code == 400 and "contains '/'" in made.json()["error"]
    assert populated.status_code == 400 and listed == {}
    assert port.status_code == 500
    assert port.json() == {"error": "listen tcp: address 999999: invalid port", "status": 500}


def _dead_pid() -> int:
    pid = os.getpid() + 100_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


@pytest.fixture
async def api_with_a_slash() -> AsyncIterator[str]:
    """A Toxiproxy API (as the real one allows) holding a dead run's proxy named with '/'."""
    from harness.faults.client import owner_suffix

    host = owner_suffix()[1:].rpartition(":")[0]
    names = {f"run1-ok@{host}:{_dead_pid()}": {}, f"run1-a/b@{host}:{_dead_pid()}": {}}

    async def index(request: Request) -> Response:
        return JSONResponse(names)

    async def delete(request: Request) -> Response:
        names.pop(request.path_params["name"], None)
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/proxies", index, methods=["GET"]),
            Route("/proxies/{name}", delete, methods=["DELETE"]),
        ]
    )
    server = LoopbackServer(app, name="fake-toxiproxy")
    yield await server.start()
    await server.stop()


async def test_prune_says_which_dead_proxies_it_could_not_remove(api_with_a_slash: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "harness.cli", "toxiproxy", "prune",
        "--toxiproxy-url", api_with_a_slash,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2, err  # was 0: the proxy with '/' silently skipped
    assert "removed run1-ok@" in out.decode()
    assert "not removed: run1-a/b@" in err.decode() and "Traceback" not in err.decode()


def test_a_git_revision_can_never_be_an_option(tmp_path: Path) -> None:
    target = tmp_path / "written-by-git"
    for rev in (f"--output={target}", "-p", "--textconv"):
        result = run_cli("diff", f"git:{rev}:contracts/flows/seed", "contracts/flows/seed")
        assert_one_line_error(result, f"'{rev}' is not a git revision")
    assert not target.exists()
    same = run_cli("diff", "git:HEAD:contracts/flows/seed", "contracts/flows/seed")
    assert_clean(same, 0, 1)


def test_a_malformed_scheduler_address_is_one_line() -> None:
    pytest.importorskip("distributed")
    result = run_cli("load", str(ROOT / "scenarios/happy-path.yaml"), "--scheduler", "tcp://[::1")
    assert_one_line_error(result, "--scheduler: not a scheduler address")
    assert "Exception ignored" not in result.stderr


@pytest.mark.parametrize(
    "address",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/x",
        "http://127.0.0.1:99999999/x",
        "http://[::1",
        "http:///x",
        "http://:8080/x",
    ],
)
def test_lint_flags_a_url_no_request_can_go_to(tmp_path: Path, address: str) -> None:
    flows = hostile_flows(tmp_path / "flows", url(address))
    result = run_cli("lint", str(flows))
    assert result.returncode == 1 and "IVR020 malformed-url" in result.stdout, result.stdout


def test_budget_and_diff_agree_on_a_silent_self_loop(tmp_path: Path) -> None:
    def flow(next_id: str) -> dict[str, object]:
        steps: list[dict[str, object]] = [
            {
                "id": "http", "type": "HTTPRequest", "nextStepId": next_id,
                "configuration": {"url": "https://api.test/x", "method": "GET", "timeout": 6000},
            },
            {"id": "bye", "type": "Hangup", "configuration": {}},
        ]  # fmt: skip
        return {"id": "loop", "name": "loop", "flowType": "IVR", "steps": steps}

    for name, next_id in (("old", "bye"), ("new", "http")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f.json").write_text(json.dumps(flow(next_id)))
    budget = run_cli("budget", str(tmp_path / "new"))
    diff = run_cli("diff", str(tmp_path / "old"), str(tmp_path / "new"))
    assert "worst silence 12000 ms: OVER BUDGET" in budget.stdout, budget.stdout
    assert "dead air 6000 -> 12000 ms; over the 8000 ms budget" in diff.stdout, diff.stdout


def test_mutate_without_scenarios_says_what_to_do(tmp_path: Path) -> None:
    flows = tmp_path / "myflows"
    shutil.copytree(HARDENED, flows)
    entry = json.loads((flows / "customer-lookup-ivr.json").read_text())
    entry["id"] = "my-ivr"
    (flows / "customer-lookup-ivr.json").write_text(json.dumps(entry))
    result = run_cli("mutate", str(flows), "--sample", "1", cwd=tmp_path)
    assert_one_line_error(result, "no scenarios to run against these flows")
    assert "is not in flow set" not in result.stderr
