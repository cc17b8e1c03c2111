"""The Node client (npm ``toxiproxy-node-client``) against the embedded server.

Its own suite's "Should update a proxy" case, driven through the client's classes: a
proxy is created, disabled, then re-enabled with the upstream ``somehost:12345``, which
real Toxiproxy 2.12.0 stores and dials only when a client connects. The package comes
from the npm registry (the CI machines reach it); without node or npm the test skips.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.faults.toxiproxy import EmbeddedToxiproxy

CLIENT = "toxiproxy-node-client@4.1.0"

# Our own script in the shape of the client's test: every step through the client.
UPDATE_CASE = """
const { Toxiproxy } = require("toxiproxy-node-client");
(async () => {
  const toxiproxy = new Toxiproxy(process.env.TOXIPROXY_API);
  const proxy = await toxiproxy.createProxy(
    { name: "update-proxy-test", listen: "localhost:0", upstream: "localhost:6379" });
  const disabled = await proxy.update(
    { enabled: false, listen: proxy.listen, upstream: proxy.upstream });
  const updated = await proxy.update(
    { enabled: true, listen: proxy.listen, upstream: "somehost:12345" });
  await proxy.remove();
  const left = Object.keys(await toxiproxy.getAll());
  console.log(JSON.stringify({ disabled: disabled.enabled, enabled: updated.enabled,
                               upstream: updated.upstream, left }));
})().catch((error) => { console.error(String(error)); process.exit(1); });
"""


@pytest.fixture(scope="module")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the Node client's case")
    where = tmp_path_factory.mktemp("node-client")
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", CLIENT],
        cwd=where, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"npm could not install {CLIENT}: {done.stderr.strip()[-300:]}")
    return where


async def test_node_clients_update_case_passes(node_client: Path) -> None:
    async with EmbeddedToxiproxy(seed=1) as server:
        process = await asyncio.create_subprocess_exec(
            "node", "-e", UPDATE_CASE,
            cwd=node_client,
            env={"PATH": str(Path(shutil.which("node") or "node").parent),
                 "TOXIPROXY_API": server.url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert json.loads(out) == {
        "disabled": False, "enabled": True, "upstream": "somehost:12345", "left": [],
    }  # fmt: skip
