"""The Flow API stand-in conforms to contracts/openapi/flowapi.yaml (schemathesis, live sockets).

As for the other backends: positive-data conformance only, the stand-in in a helper
thread because `case.call()` is synchronous. The document's examples are checked against
its schemas with the other contracts' (tests/backends/test_backends_contracts.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import schemathesis

from tests.fixtures.flowapi import CLIENT, SECRET, Tenant, small_tenant, tenant_in_thread

from .test_backends_contracts import CHECKS, FAST

SPEC = Path(__file__).resolve().parents[2] / "contracts" / "openapi" / "flowapi.yaml"
flowapi = schemathesis.openapi.from_path(SPEC)


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[Tenant, str]]:
    with tenant_in_thread(small_tenant()) as tenant:
        token = requests.post(
            f"{tenant.url}/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(quote(CLIENT), quote(SECRET)),
            timeout=5,
        ).json()["access_token"]
        yield tenant, token


@flowapi.parametrize()
@FAST
def test_the_stand_in_conforms(case: schemathesis.Case, live: tuple[Tenant, str]) -> None:
    tenant, token = live
    if case.operation.path == "/auth/token":
        case.call_and_validate(
            base_url=tenant.url, auth=(quote(CLIENT), quote(SECRET)), checks=CHECKS
        )
    else:
        case.call_and_validate(
            base_url=tenant.url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
        )
