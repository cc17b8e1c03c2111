"""No secret in any output, in any encoding: real `suite`, `chaos -v` and `load` runs, grepped.

A canary secret with URL-reserved characters is templated into a request URL (raw and
through `encodeUriComponent`) and a header; the hardened flows fetch a JWT at run time
and show what Data Storage returns. Neither may appear in the report folder or on the
console, raw, percent-encoded, base64, JSON- or HTML-escaped, or cut short.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_plus

import httpx
import pytest

from harness.scenario.environment import API_KEY, CLIENT_ID, CLIENT_SECRET
from tests.fixtures.cli_run import run_cli
from tests.fixtures.flows import HARDENED
from tests.fixtures.threaded_backends import backends_in_thread

CANARY = "Tk+Sec/ret=&%41-canary-7Q"
# The first 20 characters of any JWT (its header), and of its claims if a header is cut.
JWT_HEAD = re.compile(r"eyJ[A-Za-z0-9_-]{17,}")


def _canary_forms() -> set[str]:
    pct = {quote(CANARY, safe=""), quote(CANARY), quote_plus(CANARY), quote_plus(CANARY, "/")}
    pct |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in pct}
    raw = CANARY.encode()
    b64 = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    b64 |= {base64.b64encode(b"ivr-client:" + raw).decode()}
    escaped = {json.dumps(CANARY)[1:-1], CANARY.replace("&", "&amp;")}
    return {CANARY, *pct, *b64, *{f.rstrip("=") for f in b64}, *escaped}


def _flows_using_the_canary(tmp_path: Path) -> Path:
    flows = tmp_path / "hardened"
    shutil.copytree(HARDENED, flows)
    doc = json.loads((flows / "ticket-submit.json").read_text())
    cfg = doc["steps"][0]["configuration"]
    cfg["url"] += "?sig={{encodeUriComponent(ticket_secret)}}&raw={{ticket_secret}}"
    cfg["headers"]["X-Signature"] = "{{ticket_secret}}"
    (flows / "ticket-submit.json").write_text(json.dumps(doc))
    return flows


def _outputs(tmp_path: Path, command: str, *extra: str) -> dict[str, str]:
    """Everything `command` printed and wrote, run on the canary scenario; none may leak."""
    scenario = tmp_path / "canary.yaml"
    scenario.write_text(
        "name: canary\ncallers: {count: 2, dtmf: ['4155552671#']}\n"
        f"variables: {{ticket_secret: {json.dumps(CANARY)}}}\n"
        "expect: [{outcome: transfer:agent-queue}]\n"
    )
    reports = tmp_path / "reports"
    flows = _flows_using_the_canary(tmp_path)
    result = run_cli(
        command, str(scenario), "--flows", str(flows), "--report-dir", str(reports), *extra
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outputs = {"stdout": result.stdout, "stderr": result.stderr}
    outputs |= {str(p): p.read_text() for p in reports.rglob("*") if p.is_file()}
    for name, text in outputs.items():
        for form in _canary_forms():
            assert form not in text, (name, form)
        assert not JWT_HEAD.search(text), (name, JWT_HEAD.search(text))
    return outputs


@pytest.mark.parametrize(
    ("command", "extra", "written"),
    [("chaos", ("-v",), "results.json"), ("load", ("--json",), "load.json")],
)
def test_chaos_and_load_outputs_hold_no_secret_in_any_form(
    tmp_path: Path, command: str, extra: tuple[str, ...], written: str
) -> None:
    # The ticket host goes to reference backends of the test's own, whose request log
    # shows the canary reached the request: a run that never sent it proves nothing.
    with backends_in_thread(api_key=API_KEY, clients={CLIENT_ID: CLIENT_SECRET}) as (urls, _):
        base_url = f"api.service-provider.com={urls['tickets']}"
        outputs = _outputs(tmp_path, command, *extra, "--base-url", base_url)
        log = httpx.get(f"{urls['tickets']}/__requests", timeout=10).json()["requests"]
    tickets = [r for r in log if r["path"] == "/v1/tickets"]
    assert tickets, log
    # The journal never shows a secret, but it shows one was sent: a signature header and
    # a `sig` parameter that were not empty (an unset variable renders as "").
    for request in tickets:
        assert parse_qs(request["query"])["sig"] == ["[redacted]"]
        assert [v for k, v in request["headers"] if k == "x-signature"] == ["[redacted]"]
    assert any(name.endswith(written) for name in outputs)


def test_suite_outputs_hold_no_secret_in_any_form(tmp_path: Path) -> None:
    outputs = _outputs(tmp_path, "suite")
    assert any(name.endswith("results.json") for name in outputs)

    # The test saw what it guards: the canary's URL and the fetched token, redacted.
    events = next(t for n, t in outputs.items() if n.endswith("events.jsonl"))
    assert '/v1/tickets?sig=***&raw=***"' in events
    results = next(t for n, t in outputs.items() if n.endswith("results.json"))
    assert '"result": "***"' in results
