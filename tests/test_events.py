"""The redactor: a secret registered once never shows, in any form it takes on the wire."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from harness.events import REDACTED, Event, EventLog, Redactor

CANARY = "Tk+Sec/ret=&%41-canary-7Q"


def _forms(secret: str) -> list[str]:
    """Written out independently of `wire_forms`, so a missing form fails here."""
    pct = [quote(secret, safe=""), quote(secret), quote_plus(secret), quote(secret, "-_.!~*'()")]
    lower = [f.replace("%2B", "%2b").replace("%2F", "%2f").replace("%3D", "%3d") for f in pct]
    b64 = base64.b64encode(secret.encode()).decode()
    return [
        secret,
        *pct,
        *lower,
        json.dumps(secret)[1:-1],
        secret.replace("&", "&amp;"),
        b64,
        b64.rstrip("="),
        base64.urlsafe_b64encode(secret.encode()).decode(),
    ]


def test_every_wire_form_of_a_secret_is_redacted() -> None:
    redactor = Redactor([CANARY])
    for form in _forms(CANARY):
        out = redactor(f"GET /x?sig={form}&n=1")
        assert form not in out and out == f"GET /x?sig={REDACTED}&n=1", form


def test_basic_auth_token_of_user_and_password_is_redacted() -> None:
    redactor = Redactor()
    redactor.add_basic("ivr-client", CANARY)
    token = base64.b64encode(f"ivr-client:{CANARY}".encode()).decode()
    assert redactor(f"Authorization: Basic {token}") == f"Authorization: Basic {REDACTED}"


def test_redaction_reaches_inside_nested_event_data() -> None:
    log = EventLog(Redactor([CANARY]))
    event = log.emit(
        Event(
            kind="step_start", t_ms=0, data={"url": f"http://h/?k={quote(CANARY)}", "h": [CANARY]}
        )
    )
    assert CANARY not in event.to_json() and quote(CANARY) not in event.to_json()


def test_brief_redacts_before_it_truncates() -> None:
    jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJzdWIiOiJpdnIifQ" * 10 + ".sig"
    redactor = Redactor([jwt])
    assert redactor.brief(jwt) == REDACTED
    assert redactor.brief("token " + jwt + " and more" * 30, limit=40).startswith("token ***")


def test_a_secret_cut_short_elsewhere_loses_its_head_too() -> None:
    jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJzdWIiOiJpdnIifQ" * 10
    redactor = Redactor([jwt])
    assert redactor(f"result {jwt[:117]}...") == f"result {REDACTED}..."
    # Short, common heads are left alone: redacting them would blank ordinary text.
    assert redactor("eyJ...") == "eyJ..."


def test_short_secrets_are_redacted_where_they_stand_alone() -> None:
    """Issue 20 #10: a secret under 4 characters was never redacted. It is now, wherever
    it stands alone (a header, a query value, a JSON value); inside a longer word it is
    not the secret, and blanking it there would ruin the log. Non-strings are no secrets."""
    redactor = Redactor(["abc", 42])  # type: ignore[list-item]
    assert redactor("abc 42") == f"{REDACTED} 42"
    assert redactor("?key=abc&x=abcdef") == f"?key={REDACTED}&x=abcdef"
    assert redactor({"password": "abc", "note": "tabc"}) == {"password": REDACTED, "note": "tabc"}


def test_a_url_userinfo_password_is_redacted_unregistered() -> None:
    """Issue 20 #10: https://user:SECRET@host/ was written verbatim (call --json, events)."""
    redactor = Redactor()
    text = "GET https://ivr:S3cr%40t@api.example.com/v1?a=1 failed"
    assert redactor(text) == f"GET https://ivr:{REDACTED}@api.example.com/v1?a=1 failed"
    assert "S3cr" not in redactor.brief(text * 5)
