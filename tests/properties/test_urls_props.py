"""Rendered URLs stay well formed, or the lint flags the template (SPEC 6.2, lint IVR007).

The hardened lookup wraps the caller's number in ``encodeUriComponent``: whatever the
variable holds, the URL the executor sends parses, carries exactly one ``phone``
parameter, and that parameter decodes back to the value. The seed pastes the number in
raw, and a plain E.164 number already comes back changed: its ``+`` decodes as a space.
URLs are captured from the reference executor itself, on a virtual clock; what the
platform cannot send is shown over the real wire, to a server on loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
import respx
from hypothesis import assume, find, given
from hypothesis import strategies as st

from harness.clock import RealClock, VirtualClock
from harness.executor.context import ExecutorContext
from harness.executor.http_step import HttpStepExecutor
from harness.executor.outcome import StepResult
from harness.executor.resolver import FaultyResolver
from harness.executor.wire import Router
from harness.flow.expr.functions import encode_uri_component
from harness.flow.expr.templates import to_text
from harness.flow.lint import lint_flow_set
from harness.flow.loader import load_flow_set
from harness.flow.model import Flow, FlowSet, Step
from harness.flow.profile import CXONE
from tests.fixtures.flows import HARDENED, SEED
from tests.fixtures.inprocess import ScriptedWire, routed_by
from tests.fixtures.servers import ScriptedServer, Seen, WireReply
from tests.properties.strategies import (
    contract_query,
    dtmf_strings,
    hostile_strings,
    json_values,
    phone_inputs,
)

HOSTS = {"api.crm-provider.com": "127.0.0.1", "auth.crm-provider.com": "127.0.0.1"}
LOOKUP = ("customer-integration", "http-customer-lookup")
# The platform sends no URL longer than this (the lookup's URL is 47 characters before it).
MAX_QUERY_VALUE = CXONE.max_url_chars - 100
HARDENED_FLOWS = load_flow_set(HARDENED)
SEED_FLOWS = load_flow_set(SEED)


def _lookup(flows: FlowSet) -> tuple[Flow, Step]:
    flow = flows.get(LOOKUP[0])
    step = flow.step(LOOKUP[1]) if flow is not None else None
    assert flow is not None and step is not None
    return flow, step


def execute_lookup(flow: Flow, step: Step, phone: Any) -> tuple[StepResult, list[httpx.URL]]:
    """Run the lookup step in-process; return its result and the URLs it sent."""
    router = respx.MockRouter()
    router.route(path="/oauth/token").respond(200, json={"access_token": "t", "expires_in": 3600})
    lookup = router.route().respond(200, json={"status": "ok", "data": []})

    async def run() -> StepResult:
        clock = VirtualClock()
        ctx = ExecutorContext.create(
            clock=clock,
            wire=ScriptedWire(routed_by(router)),
            resolver=FaultyResolver(clock, hosts=HOSTS),
        )
        variables: Mapping[str, Any] = {"phone_number": phone, "oauth_client_secret": "s"}
        try:
            return await HttpStepExecutor(ctx).execute(step, variables, flow=flow)
        finally:
            await ctx.aclose()

    result = asyncio.run(run())
    return result, [call.request.url for call in lookup.calls]


def sent_url(flow: Flow, step: Step, phone: Any) -> httpx.URL:
    """The URL of the lookup request the reference executor sends for ``phone``."""
    _, seen = execute_lookup(flow, step, phone)
    assert len(seen) == 1
    return seen[0]


def phone_params(url: httpx.URL) -> list[str]:
    return url.params.get_list("phone")


def round_trips(flow: Flow, step: Step, phone: Any) -> bool:
    url = sent_url(flow, step, phone)
    return phone_params(url) == [to_text(phone)] and url.path == "/v2/accounts"


HARDENED_LOOKUP = _lookup(HARDENED_FLOWS)
SEED_LOOKUP = _lookup(SEED_FLOWS)
phones = phone_inputs() | contract_query("crm.yaml", "/v2/accounts", "GET").map(
    lambda query: query["phone"]
)


@given(phones)
def test_hardened_lookup_url_is_well_formed_for_every_phone_value(phone: str) -> None:
    # Up to httpx's URL limit (65536 characters): past it, see the test below.
    assume(len(encode_uri_component(phone)) < MAX_QUERY_VALUE)
    url = sent_url(*HARDENED_LOOKUP, phone)
    # httpx accepted it as a URL and sent it; re-parsing its text gives the same URL.
    assert httpx.URL(str(url)) == url
    assert url.scheme == "https" and url.path == "/v2/accounts" and not url.fragment
    assert phone_params(url) == [phone]
    assert set(url.params.keys()) == {"phone"}


@given(json_values() | dtmf_strings())
def test_hardened_lookup_url_carries_any_json_value_as_its_text(value: Any) -> None:
    assume(len(encode_uri_component(value)) < MAX_QUERY_VALUE)
    assert round_trips(*HARDENED_LOOKUP, value)


def test_hardened_lookup_url_is_not_flagged_by_the_lint() -> None:
    assert not [
        f for f in lint_flow_set(HARDENED_FLOWS) if f.rule_id == "IVR007" and f.step_id == LOOKUP[1]
    ]


def test_seed_raw_url_has_a_counterexample_and_the_lint_flags_it() -> None:
    bad = find(phone_inputs(), lambda phone: not round_trips(*SEED_LOOKUP, phone))
    # Shrinks to a caller number in E.164, the very format the flow produces.
    assert "+" in bad or "&" in bad or "#" in bad or "%" in bad, repr(bad)
    findings = [
        f
        for f in lint_flow_set(SEED_FLOWS)
        if (f.rule_id, f.flow_id, f.step_id) == ("IVR007", *LOOKUP)
    ]
    assert findings and "{{phone_number}}" in findings[0].message


@given(st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True))
def test_seed_raw_url_mangles_every_e164_number(phone: str) -> None:
    # The CRM contract documents the workaround ("a raw '+' decoded as a space still
    # matches"): the seed only works because the backend forgives it.
    assert phone_params(sent_url(*SEED_LOOKUP, phone)) == [" " + phone[1:]]


@given(hostile_strings(max_size=12), st.sampled_from("&#+"), st.integers(0, 12))
def test_seed_raw_url_changes_every_value_with_a_query_metacharacter(
    text: str, char: str, at: int
) -> None:
    value = text[:at] + char + text[at:]
    assume(not any(ord(c) < 0x20 or c == "\x7f" for c in value))  # see the xfail below
    assert phone_params(sent_url(*SEED_LOOKUP, value)) != [value]


def execute_lookup_on_the_wire(flow: Flow, step: Step, phone: Any) -> tuple[StepResult, list[Seen]]:
    """Run the lookup step on the real wire against a server on loopback; what it received."""

    async def run() -> tuple[StepResult, list[Seen]]:
        server = ScriptedServer()
        await server.start()
        server.script("/oauth/token", WireReply(200, {"access_token": "t", "expires_in": 3600}))
        server.script("/v2/accounts", WireReply(200, {"status": "ok", "data": []}))
        clock = RealClock()
        ctx = ExecutorContext.create(clock=clock, resolver=FaultyResolver(clock))
        ctx.router = Router(routes={host: server.url for host in HOSTS})
        variables = {"phone_number": phone, "oauth_client_secret": "s"}
        try:
            result = await HttpStepExecutor(ctx).execute(step, variables, flow=flow)
        finally:
            await ctx.aclose()
            await server.stop()
        return result, [s for s in server.seen if s.path == "/v2/accounts"]

    return asyncio.run(run())


@given(st.sampled_from(["\x00", "\x1f", "\x7f", "+1415\x005552671"]))
def test_an_unsendable_url_is_an_outcome_on_the_real_wire(value: str) -> None:
    # The seed pastes the number in raw. aiohttp would percent-encode the control
    # character and send it; the platform's client refuses the URL, so the step ends
    # in an outcome class, once, with nothing sent.
    result, seen = execute_lookup_on_the_wire(*SEED_LOOKUP, value)
    assert (result.outcome, result.error_code) == ("connection_error", "EINVALIDURL")
    assert result.variables["http_attempts"] == 1 and seen == []


def test_a_url_past_the_platforms_length_limit_is_an_outcome_on_the_real_wire() -> None:
    # Encoded, 11,000 x "é" is 66,000 characters: past the platform's 65,519.
    result, seen = execute_lookup_on_the_wire(*HARDENED_LOOKUP, "\u00e9" * 11_000)
    assert (result.outcome, result.error_code) == ("connection_error", "EINVALIDURL")
    assert result.variables["http_attempts"] == 1 and seen == []
    # and one just inside the limit is sent whole
    fits = "\u00e9" * ((CXONE.max_url_chars - 47) // 6)
    result, seen = execute_lookup_on_the_wire(*HARDENED_LOOKUP, fits)
    assert result.outcome == "success" and len(seen) == 1
    assert seen[0].query == "phone=" + encode_uri_component(fits)
