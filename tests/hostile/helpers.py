"""Hostile inputs built from the bundled flows: one field changed, the rest intact."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fixtures.cli_run import ROOT

HARDENED = ROOT / "contracts" / "flows" / "hardened"
OPENAPI = ROOT / "contracts" / "openapi"
SPECS = [
    "--spec",
    f"api.crm-provider.com={OPENAPI / 'crm.yaml'}",
    "--spec",
    f"api.service-provider.com={OPENAPI / 'tickets.yaml'}",
    "--spec",
    f"auth.crm-provider.com={OPENAPI / 'oauth.yaml'}",
]
Edit = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], None]


def hostile_flows(dest: Path, edit: Edit) -> Path:
    """The hardened flow set under ``dest``, its CRM lookup step and router given to
    ``edit(document, http_step, router)`` first."""
    shutil.copytree(HARDENED, dest)
    path = dest / "customer-integration.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    steps = {s["id"]: s for s in document["steps"]}
    edit(document, steps["http-customer-lookup"], steps["error-router"])
    path.write_text(json.dumps(document), encoding="utf-8")
    return dest


def mapping(text: str) -> Edit:
    def edit(doc: dict[str, Any], http: dict[str, Any], router: dict[str, Any]) -> None:
        http["configuration"]["responseMapping"]["integration_status"] = text

    return edit


def url(text: str) -> Edit:
    def edit(doc: dict[str, Any], http: dict[str, Any], router: dict[str, Any]) -> None:
        http["configuration"]["url"] = text

    return edit


def condition(text: str) -> Edit:
    def edit(doc: dict[str, Any], http: dict[str, Any], router: dict[str, Any]) -> None:
        router["configuration"]["conditions"][0]["expression"] = text

    return edit


def assert_clean(result: Any, *codes: int) -> None:
    """Exit in ``codes`` (default 0, 1, 2), no traceback; exit 2 is one `error:` line."""
    allowed = codes or (0, 1, 2)
    assert result.returncode in allowed, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    if result.returncode == 2:
        lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert lines, result.stderr
