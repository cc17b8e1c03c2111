"""Fixtures for the reference-backend tests: live servers on 127.0.0.1 port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from harness.backends.server import ReferenceBackends

API_KEY = "k-test"
CLIENTS = {"ivr-client": "s3cret"}


@pytest.fixture
async def backends() -> AsyncIterator[ReferenceBackends]:
    async with ReferenceBackends(host="127.0.0.1", seed=0, api_key=API_KEY, clients=CLIENTS) as b:
        yield b


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10, trust_env=False) as c:
        yield c


async def get_token(
    client: httpx.AsyncClient, b: ReferenceBackends, scope: str = "crm:read accounts:query"
) -> str:
    response = await client.post(
        f"{b.urls['oauth']}/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=("ivr-client", "s3cret"),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token
