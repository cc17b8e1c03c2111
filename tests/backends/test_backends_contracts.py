"""The backends conform to their own OpenAPI contracts (schemathesis, live sockets).

schemathesis' `case.call()` is synchronous, so the backends run in a helper thread
(tests/fixtures/threaded_backends.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from harness.backends.tickets import TICKET_REQUEST_SCHEMA
from tests.fixtures.threaded_backends import backends_in_thread

from .conftest import API_KEY, CLIENTS

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "openapi"
# Positive-data conformance only: these hold on a correct backend with no false
# positives. negative_data_rejection/positive_data_acceptance are left out on
# purpose: the contracts under-specify (e.g. any phone string is a valid query,
# an unknown scope is a documented 400), so they would flag correct answers.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FAST = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Live:
    urls: dict[str, str]
    token: str


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with backends_in_thread(api_key=API_KEY, clients=CLIENTS) as (urls, _):
        token = requests.post(
            f"{urls['oauth']}/oauth/token",
            data={"grant_type": "client_credentials", "scope": "crm:read accounts:query"},
            auth=("ivr-client", CLIENTS["ivr-client"]),
            timeout=5,
        ).json()["access_token"]
        yield Live(urls=urls, token=token)


crm = schemathesis.openapi.from_path(CONTRACTS / "crm.yaml")
tickets = schemathesis.openapi.from_path(CONTRACTS / "tickets.yaml")
oauth = schemathesis.openapi.from_path(CONTRACTS / "oauth.yaml")


@crm.parametrize()
@FAST
def test_crm_conforms(case: schemathesis.Case, live: Live) -> None:
    case.call_and_validate(
        base_url=live.urls["crm"],
        headers={"Authorization": f"Bearer {live.token}"},
        checks=CHECKS,
    )


@tickets.parametrize()
@FAST
def test_tickets_conforms(case: schemathesis.Case, live: Live) -> None:
    case.call_and_validate(
        base_url=live.urls["tickets"], headers={"X-API-Key": API_KEY}, checks=CHECKS
    )


@oauth.parametrize()
@FAST
def test_oauth_conforms(case: schemathesis.Case, live: Live) -> None:
    case.call_and_validate(
        base_url=live.urls["oauth"], auth=("ivr-client", CLIENTS["ivr-client"]), checks=CHECKS
    )


def test_tickets_stateful_links(live: Live) -> None:
    """createTicket -> getTicket through the contract's `links`; a created id must be readable."""

    class Machine(tickets.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": live.urls["tickets"], "headers": {"X-API-Key": API_KEY}}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(
                response, checks=[*CHECKS, use_after_free], transport_kwargs=kwargs
            )

    Machine.run(settings=settings(FAST, max_examples=15, stateful_step_count=4))


@pytest.mark.parametrize("name", ["crm", "tickets", "oauth", "flowapi"])
def test_contract_examples_match_their_schemas(name: str) -> None:
    document = yaml.safe_load((CONTRACTS / f"{name}.yaml").read_text())
    checked = 0
    for media in _media_objects(document):
        schema = {"$ref": _ref(media["schema"]), "components": document["components"]}
        for example in media.get("examples", {}).values():
            value = _resolve(document, example)["value"]
            jsonschema.Draft202012Validator(schema).validate(value)
            checked += 1
    assert checked >= 5


def test_ticket_request_schema_matches_the_server() -> None:
    document = yaml.safe_load((CONTRACTS / "tickets.yaml").read_text())
    assert document["components"]["schemas"]["TicketRequest"] == TICKET_REQUEST_SCHEMA


def _media_objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "schema" in node and "examples" in node:
            yield node
        for value in node.values():
            yield from _media_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _media_objects(value)


def _ref(schema: dict[str, Any]) -> str:
    return str(schema.get("$ref", "")) or pytest.fail(f"inline schema without $ref: {schema}")


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in node:
        return node
    target: Any = document
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return dict(target)
