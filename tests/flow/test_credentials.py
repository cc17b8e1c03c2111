"""Credentials as an authentication block names them: one home for executor and contract."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from harness.flow.credentials import (
    ApiKey,
    Basic,
    ClientCredentials,
    TokenError,
    basic_header,
    credentials_of,
    parse_token,
)

VARIABLES = {"key": "k-123", "user": "ivr", "secret": "s3cret", "scope": "crm:read"}


def _text(template: Any) -> str:
    text = str(template)
    for name, value in VARIABLES.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def test_an_api_key_block_is_a_header() -> None:
    auth = {"type": "apiKey", "headerName": "X-API-Key", "headerValue": "{{key}}"}
    credential = credentials_of(auth, _text)
    assert credential == ApiKey(header="X-API-Key", value="k-123")
    assert credential.headers == {"X-API-Key": "k-123"}
    assert "k-123" not in repr(credential)


def test_a_basic_block_is_rfc_7617_basic_credentials() -> None:
    credential = credentials_of(
        {"type": "basic", "username": "{{user}}", "password": "{{secret}}"}, _text
    )
    assert isinstance(credential, Basic)
    header = credential.headers["Authorization"]
    assert header == basic_header("ivr", "s3cret")
    assert base64.b64decode(header.removeprefix("Basic ")) == b"ivr:s3cret"
    assert "s3cret" not in repr(credential)


def test_an_oauth2_block_is_client_credentials_and_a_token_request() -> None:
    auth = {
        "type": "oauth2",
        "clientId": "{{user}}",
        "clientSecret": "{{secret}}",
        "tokenEndpoint": "https://auth.example/token",
        "scopes": ["{{scope}}", "crm:write"],
    }
    credential = credentials_of(auth, _text)
    assert isinstance(credential, ClientCredentials)
    assert credential.key.scopes == ("crm:read", "crm:write")
    headers, form = credential.token_request()
    assert headers["Authorization"] == basic_header("ivr", "s3cret")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form == b"grant_type=client_credentials&scope=crm%3Aread+crm%3Awrite"


def test_no_scopes_asks_for_the_clients_default_ones() -> None:
    client = ClientCredentials(token_endpoint="https://t/", client_id="c", client_secret="s")
    assert client.token_request()[1] == b"grant_type=client_credentials"


@pytest.mark.parametrize("auth", [None, {}, {"type": "none"}])
def test_no_authentication_is_no_credential(auth: Any) -> None:
    assert credentials_of(auth, _text) is None


def test_a_token_answer_is_read_or_named_as_a_failure() -> None:
    body = json.dumps({"access_token": "tok", "expires_in": 60}).encode()
    token = parse_token(200, body, now=100.0)
    assert (token.access_token, token.expires_at) == ("tok", 160.0)
    assert "tok" not in repr(token)
    for status, answer, code in [
        (401, b"{}", "token_endpoint_http_401"),
        (200, b"not json", "token_response_malformed"),
        (200, b"[]", "token_response_malformed"),
    ]:
        with pytest.raises(TokenError) as caught:
            parse_token(status, answer, now=0.0)
        assert caught.value.code == code
