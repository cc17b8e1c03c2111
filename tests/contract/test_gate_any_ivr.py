"""Acceptance: two IVRs of our own through the real CLI, from a folder outside the checkout.

(a) tests/contract/data/clinic: a clinic booking line. CollectDigits (7-digit patient id)
-> regex guard -> GET /v2/patients/{id}/slots (guarded `$.slots[0]`, breaker) -> router
`http_outcome == 'success' && slot_id != null` -> "press 1 to book" -> POST /v2/bookings
(Idempotency-Key, retry on 503) -> 201 booked, or 202 and a bounded Wait -> front desk on
every failure; both HTTP steps on one host, parameters defined by local `$ref`s.

(b) tests/contract/data/billing: a main flow that re-prompts on invalid input (back to
its CollectDigits, three tries) and calls a SubFlow holding two HTTP steps on two hosts
(a bearer token cached by a scheduled client-credentials job; an API key), then a payment
POST on the first host.

Each is copied to a temporary folder with its flows, specs and ivr-harness.toml only;
`gate` and `contract` take everything from the configuration. The correct flows pass;
each planted contract defect fails, named.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.asgi_server import LoopbackServer
from harness.cli import main
from tests.fixtures.cli_run import ROOT, run_cli

DATA = Path(__file__).parent / "data"
FAST = ("--max-examples", "20")  # each search; the default 150 finds the same here, slower
Edit = Callable[[dict[str, dict[str, Any]]], None]


def _copy(name: str, root: Path) -> Path:
    """The IVR as a team keeps it: flows/, openapi/, ivr-harness.toml; nothing else."""
    shutil.copytree(DATA / name, root / name)
    return root / name


def _plant(project: Path, flow: str, edit: Edit) -> None:
    path = project / "flows" / f"{flow}.json"
    document = json.loads(path.read_text())
    edit({step["id"]: step for step in document["steps"]})
    path.write_text(json.dumps(document, indent=2))


def _cfg(step: dict[str, Any]) -> dict[str, Any]:
    return step["configuration"]  # type: ignore[no-any-return]


def _reports(project: Path, *, passed: bool = False) -> dict[str, Any]:
    (run,) = (project / "reports").iterdir()
    # Pacts only from a passing gate: a failing one must leave nothing to publish.
    pacts = {"pacts"} if passed else set()
    assert {p.name for p in run.iterdir()} == {"results.json", "junit.xml", "lint.sarif", *pacts}
    return json.loads((run / "results.json").read_text())  # type: ignore[no-any-return]


def _pact_providers(project: Path) -> list[str]:
    (run,) = (project / "reports").iterdir()
    pacts = [json.loads(p.read_text()) for p in sorted((run / "pacts").glob("*.json"))]
    assert all(p["consumer"]["name"] == project.name for p in pacts)
    return sorted(p["provider"]["name"] for p in pacts)


# --- the correct flows -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "specs"),
    [
        ("clinic", ["api.clinic.example.com"]),
        ("billing", ["api.billing.example.com", "auth.billing.example.com",
                     "loyalty.partner.example.com"]),
    ],
)  # fmt: skip
def test_the_correct_flows_pass_gate_and_contract(
    name: str, specs: list[str], tmp_path: Path
) -> None:
    project = _copy(name, tmp_path)
    # No secret is set: an offline check never needs one.
    gate = run_cli("gate", "--report-dir", "reports", *FAST, cwd=project)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "GATE PASSED" in gate.stdout and "Traceback" not in gate.stderr
    results = _reports(project, passed=True)
    assert [(p["name"], p["status"]) for p in results["parts"]] == [
        ("lint", "passed"),
        ("budget", "passed"),
        ("consumer", "passed"),
    ]
    consumer = results["parts"][2]["details"]
    assert sorted(s["name"] for s in consumer["specs"]) == specs  # named by the config's hosts
    assert not [f for f in consumer["findings"] if f["check"] == "operation-match"]
    assert _pact_providers(project) == specs  # a pact per backend host, ready to publish
    contract = run_cli("contract", *FAST, cwd=project)
    assert contract.returncode == 0, contract.stdout + contract.stderr
    assert "consumer contract passed" in contract.stdout


def test_a_ref_parameter_is_validated_like_an_inline_one(tmp_path: Path) -> None:
    project = _copy("clinic", tmp_path)
    done = run_cli("contract", "--notes", "--json", *FAST, cwd=project)
    findings = json.loads(done.stdout)["findings"]
    assert not [f for f in findings if f["check"] == "unsupported" and "schema" in f["message"]]
    # ... and it bites: the path parameter's pattern comes from #/components/parameters.
    _plant(project, "clinic-booking", _loose_guard("patient_id.length == 7"))
    done = run_cli("contract", *FAST, cwd=project)
    assert done.returncode == 1
    assert "path parameter 'patientId'" in done.stdout and "^[0-9]{7}$" in done.stdout


# --- planted defects ---------------------------------------------------------------------


def _loose_guard(expression: str) -> Edit:
    def edit(steps: dict[str, dict[str, Any]]) -> None:
        router = next(s for s in steps.values() if s["id"] in ("check-patient", "check-account"))
        _cfg(router)["conditions"][0]["expression"] = expression

    return edit


def _unguarded_index(steps: dict[str, dict[str, Any]]) -> None:
    # `$.slots[0].id` with no null check anywhere: not in the mapping, not in the router
    # (a router that tests `slot_id != null` guards it: lint IVR006).
    _cfg(steps["http-get-slots"])["responseMapping"]["slot_id"] = "$.slots[0].id"
    _no_null_check(steps)


def _no_null_check(steps: dict[str, dict[str, Any]]) -> None:
    _cfg(steps["slots-router"])["conditions"][0]["expression"] = "http_outcome == 'success'"


def _body_off_schema(steps: dict[str, dict[str, Any]]) -> None:
    _cfg(steps["http-book"])["body"] = {"patient": "{{patient_id}}", "slotId": "{{slot_id}}"}


def _amount_as_text(steps: dict[str, dict[str, Any]]) -> None:
    body = _cfg(steps["http-pay"])["body"]
    body["amountCents"] = "{{balance_cents}} cents"


CLINIC_DEFECTS: dict[str, tuple[Edit, str, list[str]]] = {
    # name: (edit, the gate part that fails, what the failure names)
    # The lint names the index; the consumer check then also sees the null slot sent.
    "unguarded [0]": (_unguarded_index, "lint", ["IVR006", "http-get-slots", "$.slots[0]"]),
    "no null check of the slot": (
        _no_null_check,
        "consumer",
        ["clinic-booking/http-book", "/slotId: None is not of type 'string'", "slot_id=null"],
    ),
    "body off the request schema": (
        _body_off_schema,
        "consumer",
        ["clinic-booking/http-book", "'patientId' is a required property"],
    ),
    "guard too loose": (
        _loose_guard("patient_id.length == 7"),
        "consumer",
        ["clinic-booking/http-get-slots", "path parameter 'patientId'", "does not match"],
    ),
}
BILLING_DEFECTS: dict[str, tuple[Edit, str, list[str]]] = {
    "re-prompt guard too loose": (
        _loose_guard("account_number != ''"),
        "consumer",
        ["account-lookup/http-account", "path parameter 'accountNumber'", "does not match"],
    ),
    "amount sent as text": (
        _amount_as_text,
        "consumer",
        ["billing-ivr/http-pay", "/amountCents: '4250 cents' is not of type 'integer'"],
    ),
}


# Over the real CLI for one defect of each IVR; in-process (the same commands, the same
# configuration found from the project folder) for the others, to keep `make test` quick.
OVER_THE_CLI = {"no null check of the slot", "amount sent as text"}


@pytest.mark.parametrize(
    ("name", "defect"),
    [("clinic", d) for d in CLINIC_DEFECTS] + [("billing", d) for d in BILLING_DEFECTS],
)
def test_each_planted_defect_fails_the_gate_naming_it(
    name: str, defect: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit, part, needles = {**CLINIC_DEFECTS, **BILLING_DEFECTS}[defect]
    project = _copy(name, tmp_path)
    _plant(project, "clinic-booking" if name == "clinic" else "billing-ivr", edit)
    if defect in OVER_THE_CLI:
        run = lambda *args: run_cli(*args, cwd=project)  # noqa: E731
    else:
        monkeypatch.chdir(project)
        run = _in_process
    gate = run("gate", "--report-dir", "reports", *FAST)
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert "Traceback" not in gate.stderr
    results = _reports(project)
    failed = {p["name"]: p for p in results["parts"] if p["status"] != "passed"}
    also = ["consumer"] if defect == "unguarded [0]" else []
    assert list(failed) == [part, *also], results["parts"]
    problems = "\n".join(failed[part]["problems"])
    for needle in needles:
        assert needle in problems, (needle, problems)
    if part == "consumer":
        contract = run("contract", *FAST)
        assert contract.returncode == 1, contract.stdout + contract.stderr
        assert all(needle in contract.stdout for needle in needles), contract.stdout


@dataclass
class _Done:
    returncode: int
    stdout: str
    stderr: str


def _in_process(*args: str) -> _Done:
    result = CliRunner().invoke(main, list(args), env={"NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return _Done(result.exit_code, result.stdout, result.stderr)


# --- flags win over the configuration ------------------------------------------------------


def test_a_spec_flag_replaces_the_configured_specs(tmp_path: Path) -> None:
    project = _copy("clinic", tmp_path)
    stricter = project / "openapi" / "clinic.yaml"
    eight = stricter.read_text().replace("^[0-9]{7}$", "^[0-9]{8}$")
    (project / "stricter.yaml").write_text(eight)
    done = run_cli("contract", "--spec", "api.clinic.example.com=stricter.yaml", *FAST, cwd=project)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "^[0-9]{8}$" in done.stdout


def test_without_flows_or_specs_anywhere_the_gate_says_what_is_missing(tmp_path: Path) -> None:
    done = run_cli("gate", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: FLOWS: no flows given")


# --- the provider run reads base_url and secrets from the configuration -----------------------

SECRET = "clinic-key-7f3a"


@pytest.fixture
async def clinic_api() -> AsyncIterator[tuple[str, list[str]]]:
    """A clinic backend of our own that wants its API key: the provider must send it."""
    seen: list[str] = []

    def keyed(request: Request) -> JSONResponse | None:
        seen.append(request.headers.get("x-api-key", ""))
        if request.headers.get("x-api-key") != SECRET:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        return None

    async def slots(request: Request) -> JSONResponse:
        refused = keyed(request)
        if refused is not None:
            return refused
        if len(request.path_params["pid"]) != 7 or not request.path_params["pid"].isdigit():
            return JSONResponse({"error": "no such patient"}, status_code=404)
        return JSONResponse({"slots": [{"id": "slot-0930", "start": "Monday at nine"}]})

    async def book(request: Request) -> JSONResponse:
        refused = keyed(request)
        return refused or JSONResponse({"id": "bk-1", "status": "confirmed"}, status_code=201)

    app = Starlette(
        routes=[
            Route("/v2/patients/{pid}/slots", slots),
            Route("/v2/bookings", book, methods=["POST"]),
        ]
    )
    server = LoopbackServer(app, name="clinic")
    url = await server.start()
    try:
        yield url, seen
    finally:
        await server.stop()


async def _cli(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """`ivr-harness ARGS` in a real process while this loop keeps serving the backend;
    the environment holds no CLINIC_API_KEY unless ``env`` gives one."""
    base = {k: v for k, v in os.environ.items() if k != "CLINIC_API_KEY"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "harness.cli", *args, cwd=cwd,
        env={**base, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=100)
    return process.returncode or 0, out.decode(), err.decode()


@pytest.mark.timeout(240)
async def test_provider_and_gate_take_base_url_and_secret_from_the_configuration(
    clinic_api: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, seen = clinic_api
    project = _copy("clinic", tmp_path)
    config = (project / "ivr-harness.toml").read_text()
    spec_line = 'spec = "openapi/clinic.yaml"'
    config = config.replace(spec_line, f'{spec_line}\nbase_url = "{url}"')
    (project / "ivr-harness.toml").write_text(config)
    env = {"CLINIC_API_KEY": SECRET}

    code, out, err = await _cli(project, env, "provider", "--max-examples", "5")
    assert code == 0, out + err
    assert f"== api.clinic.example.com: {project / 'openapi' / 'clinic.yaml'} against {url}" in out
    assert "provider contract passed" in out
    assert seen and set(seen) == {SECRET}  # the flows' apiKey, filled from [secrets]

    code, out, err = await _cli(
        project, env, "gate", "--report-dir", "reports", "--provider-examples", "3", *FAST
    )
    assert code == 0, out + err
    parts = {p["name"]: p["status"] for p in _reports(project, passed=True)["parts"]}
    assert parts["provider api.clinic.example.com"] == "passed"
    assert not any(SECRET.encode() in p.read_bytes() for p in (project / "reports").rglob("*.*"))

    # The gate will send requests, so the secret must be set: exit 2, one line naming it,
    # before anything runs.
    code, out, err = await _cli(project, {}, "gate", "--report-dir", "unset")
    assert code == 2 and "Traceback" not in err, out + err
    assert err.splitlines() == [
        f"error: {project / 'ivr-harness.toml'}#/secrets/clinic_api_key: secret "
        "'clinic_api_key' needs environment variable CLINIC_API_KEY, which is not set "
        "(export CLINIC_API_KEY=...)"
    ]
    assert not (project / "unset").exists()
