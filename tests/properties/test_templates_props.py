"""Templated request bodies stay valid JSON and schema-valid, or the lint flags the template.

The hardened ticket submission builds its body as a JSON object whose leaves are
``{{...}}`` placeholders: whatever the variables hold, what goes on the wire is JSON with
exactly the four documented fields, and every value in the upstream contracts' domain
gives a body the ``createTicket`` schema accepts. The seed pastes the same values into a
JSON *string*: one quote breaks it, and lint rule IVR008 names that step.
Bodies are captured from the reference executor itself, on a virtual clock.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import httpx
import jsonschema
import respx
from hypothesis import find, given
from hypothesis import strategies as st

from harness.clock import VirtualClock
from harness.executor.context import ExecutorContext
from harness.executor.http_step import HttpStepExecutor
from harness.executor.resolver import FaultyResolver
from harness.flow.lint import lint_flow_set
from harness.flow.loader import load_flow_set
from harness.flow.model import Flow, FlowSet, Step
from tests.fixtures.flows import HARDENED, SEED
from tests.fixtures.inprocess import ScriptedWire, routed_by
from tests.properties.strategies import (
    contract_bodies,
    flow_variables,
    hostile_strings,
    json_values,
    request_schema,
)

HOSTS = {"api.service-provider.com": "127.0.0.1", "api.crm-provider.com": "127.0.0.1"}
TICKET_SCHEMA = jsonschema.Draft202012Validator(request_schema("tickets.yaml", "TicketRequest"))
TIERS = st.sampled_from(["PLATINUM", "GOLD", "SILVER", "STANDARD"]) | json_values()
tickets = contract_bodies("tickets.yaml", "/v1/tickets", "POST")


HARDENED_FLOWS = load_flow_set(HARDENED)
SEED_FLOWS = load_flow_set(SEED)


def _step(flows: FlowSet, flow_id: str, step_id: str) -> tuple[Flow, Step]:
    flow = flows.get(flow_id)
    assert flow is not None
    step = flow.step(step_id)
    assert step is not None
    return flow, step


def sent_request(step: Step, variables: Mapping[str, Any], flow: Flow) -> httpx.Request:
    """The request the reference executor puts on the wire for ``step``."""
    router = respx.MockRouter()
    backend = router.route().respond(201, json={})

    async def run() -> None:
        clock = VirtualClock()
        ctx = ExecutorContext.create(
            clock=clock,
            wire=ScriptedWire(routed_by(router)),
            resolver=FaultyResolver(clock, hosts=HOSTS),
        )
        try:
            await HttpStepExecutor(ctx).execute(step, variables, flow=flow)
        finally:
            await ctx.aclose()

    asyncio.run(run())
    assert backend.call_count == 1
    return backend.calls.last.request


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(content: bytes) -> Any:
    """RFC 8259 JSON: UTF-8, and no NaN/Infinity (Python's json.loads accepts those)."""
    return json.loads(content.decode("utf-8"), parse_constant=_reject_constant)


def ticket_variables(account_id: Any, phone: Any, tier: Any) -> dict[str, Any]:
    return {
        "customer_profile": {"id": account_id, "name": "Ada", "attributes": {}},
        "phone_number": phone,
        "formatted_phone": phone,
        "loyalty_tier": tier,
        "flow_execution_id": "exec-1",
        "api_key_variable": "k-123",
    }


# --- hardened: an object body ---------------------------------------------------------------

HARDENED_TICKET = _step(HARDENED_FLOWS, "ticket-submit", "http-ticket-submit")


@given(tickets, TIERS)
def test_hardened_ticket_body_is_schema_valid_for_every_contract_value(
    ticket: dict[str, Any], tier: Any
) -> None:
    # account_id comes from the CRM's Account.id, phone_number passed validateE164 in the
    # parent flow: schemathesis draws both from createTicket's own constraints.
    flow, step = HARDENED_TICKET
    variables = ticket_variables(ticket["account_id"], ticket["phone"], tier)
    body = strict_json(sent_request(step, variables, flow).content)
    TICKET_SCHEMA.validate(body)
    priority = "HIGH" if tier == "PLATINUM" and isinstance(tier, str) else "NORMAL"
    assert body == {
        "account_id": ticket["account_id"],
        "phone": ticket["phone"],
        "priority": priority,
        "source": "IVR_AUTO",
    }


@given(flow_variables(("customer_profile", "phone_number", "loyalty_tier")), json_values())
def test_hardened_ticket_body_is_json_with_exactly_the_documented_fields(
    variables: dict[str, Any], account_id: Any
) -> None:
    # Any JSON value at all, or none: no value can add, drop or rename a field, and the
    # body is schema-valid exactly when the values themselves are.
    if isinstance(variables.get("customer_profile"), dict) and variables["customer_profile"]:
        variables["customer_profile"]["id"] = account_id
    profile = variables.get("customer_profile")
    flow, step = HARDENED_TICKET
    body = strict_json(sent_request(step, variables, flow).content)
    assert set(body) == {"account_id", "phone", "priority", "source"}
    expected_id = profile.get("id") if isinstance(profile, dict) else None
    assert (body["account_id"], body["phone"]) == (expected_id, variables.get("phone_number"))
    assert body["priority"] in ("HIGH", "NORMAL") and body["source"] == "IVR_AUTO"
    field_errors = {e.path[0] if e.path else "<root>" for e in TICKET_SCHEMA.iter_errors(body)}
    assert field_errors <= {"account_id", "phone"}


@given(hostile_strings(), tickets)
def test_hostile_account_ids_stay_inside_their_field(account_id: str, ticket: Any) -> None:
    flow, step = HARDENED_TICKET
    variables = ticket_variables(account_id, ticket["phone"], "PLATINUM")
    body = strict_json(sent_request(step, variables, flow).content)
    assert body["account_id"] == account_id
    assert TICKET_SCHEMA.is_valid(body) is (1 <= len(account_id) <= 64)


def test_hardened_ticket_body_is_not_flagged_by_the_lint() -> None:
    assert not [
        f
        for f in lint_flow_set(HARDENED_FLOWS)
        if f.rule_id == "IVR008" and f.step_id == "http-ticket-submit"
    ]


@given(st.sampled_from([b"NaN", b"Infinity", b"-Infinity"]))
def test_a_non_json_constant_in_a_response_never_reaches_a_request_body(constant: bytes) -> None:
    # Found by this suite: Python's json.loads takes NaN/Infinity, the mapped variable
    # held nan and json.dumps wrote a bare NaN into the ticket body.
    _relay_crm_id_into_ticket_body(constant)


@given(st.sampled_from([b"1e999", b"-1e400", b"[1e309]"]))
def test_an_overflowing_number_in_a_response_never_breaks_a_request_body(number: bytes) -> None:
    # Found by this suite: a number past the double range parsed to inf.
    _relay_crm_id_into_ticket_body(number)


def _relay_crm_id_into_ticket_body(crm_id: bytes) -> None:
    """CRM lookup answers with ``crm_id`` as the account id; the ticket body must be JSON."""
    lookup_flow, lookup = _step(HARDENED_FLOWS, "customer-integration", "http-customer-lookup")
    crm = b'{"status": "ok", "data": [{"id": %s, "attributes": {}}]}' % crm_id
    mapped = asyncio.run(_lookup(lookup, lookup_flow, crm))
    profile = mapped.get("customer_profile")
    account_id = profile.get("id") if isinstance(profile, dict) else None
    flow, step = HARDENED_TICKET
    variables = ticket_variables(account_id, "+14155552671", "GOLD")
    strict_json(sent_request(step, variables, flow).content)


async def _lookup(step: Step, flow: Flow, body: bytes) -> Mapping[str, Any]:
    router = respx.MockRouter()
    router.route(path="/oauth/token").respond(200, json={"access_token": "t", "expires_in": 3600})
    router.route().respond(200, content=body, headers={"Content-Type": "application/json"})
    clock = VirtualClock()
    hosts = {**HOSTS, "auth.crm-provider.com": "127.0.0.1"}
    ctx = ExecutorContext.create(
        clock=clock,
        wire=ScriptedWire(routed_by(router)),
        resolver=FaultyResolver(clock, hosts=hosts),
    )
    try:
        variables = {"phone_number": "+14155552671", "oauth_client_secret": "s"}
        result = await HttpStepExecutor(ctx).execute(step, variables, flow=flow)
    finally:
        await ctx.aclose()
    return result.variables


# --- seed: a string body --------------------------------------------------------------------

SEED_TICKET = _step(SEED_FLOWS, "ticket-submit", "http-ticket-submit")


def seed_body(account_id: str) -> Any:
    """The seed's body for ``account_id`` as strict JSON, or None when it is not JSON."""
    flow, step = SEED_TICKET
    content = sent_request(step, ticket_variables(account_id, "+14155552671", "GOLD"), flow).content
    try:
        return strict_json(content)
    except ValueError:
        return None


def test_seed_string_body_breaks_for_some_value_and_the_lint_flags_it() -> None:
    # The property "valid JSON for every input" fails for the seed: find its counterexample.
    bad = find(hostile_strings(), lambda s: seed_body(s) is None)
    assert len(bad) == 1 and (bad in '\\"' or ord(bad) < 0x20), repr(bad)
    findings = [
        f
        for f in lint_flow_set(SEED_FLOWS)
        if (f.rule_id, f.flow_id, f.step_id) == ("IVR008", "ticket-submit", "http-ticket-submit")
    ]
    assert findings and findings[0].pointer.endswith("/configuration/body")


@given(tickets, st.sampled_from(['"', "\\", "\n"]), st.integers(0, 63))
def test_seed_string_body_never_carries_a_contract_value_with_a_quote_intact(
    ticket: Any, char: str, at: int
) -> None:
    # A legitimate account id (createTicket: any 1..64 characters) with one JSON
    # metacharacter: the body is broken JSON, or JSON that says something else.
    base = ticket["account_id"][:63]
    account_id = base[:at] + char + base[at:]
    body = seed_body(account_id)
    assert body is None or body.get("account_id") != account_id
