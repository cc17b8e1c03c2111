"""Audit events: the guide's Event Analytics trail, kept as JSON Lines.

Every attempt, error code, response-body hash, wait, token fetch and breaker
transition is an :class:`Event`. The executor and runner emit them into an
:class:`EventLog`; reporters consume them. Secrets are redacted on the way in,
so nothing downstream can leak them.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import html
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

__all__ = [
    "REDACTED",
    "Event",
    "EventLog",
    "Redactor",
    "basic_credentials",
    "looks_secret",
    "wire_forms",
]

_SECRET_WORDS = ("secret", "password", "token", "api_key", "apikey", "credential")


@functools.lru_cache(maxsize=4096)  # called for every variable of every step of every call
def looks_secret(name: str) -> bool:
    """Whether a variable or header name suggests its value is a secret."""
    lowered = name.lower().replace("-", "_")
    return lowered in ("authorization", "x_api_key") or any(w in lowered for w in _SECRET_WORDS)


REDACTED = "***"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One timestamped fact about a call.

    `t_ms` is milliseconds on the run's clock since the run started; `wall_ms`
    is the epoch time the platform would stamp.
    """

    kind: str
    t_ms: float
    wall_ms: int = 0
    call_id: str = ""
    step_id: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)


def wire_forms(secret: str) -> set[str]:
    """Every form `secret` can take on the wire or in a file, the raw one included.

    Percent-encoded as `quote`, `quote_plus` and JavaScript's `encodeURIComponent`
    do it (upper- and lower-case hex), JSON-escaped (ASCII-only and not), HTML-escaped,
    and base64 (standard and URL-safe, padded and not). A redactor that matches only
    the raw form leaks `Tk%2BSec...` from every URL the value was templated into.
    """
    encoded = {
        quote(secret, safe=""),
        quote(secret, safe="/"),
        quote_plus(secret, safe=""),
        quote_plus(secret, safe="/"),
        quote(secret, safe="-_.!~*'()"),  # encodeUriComponent
    }
    encoded |= {_PCT.sub(lambda m: m.group(0).lower(), form) for form in encoded}
    forms = {secret, *encoded, html.escape(secret), html.escape(secret, quote=False)}
    forms |= {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    for b64 in (base64.b64encode(secret.encode()), base64.urlsafe_b64encode(secret.encode())):
        text = b64.decode("ascii")
        forms |= {text, text.rstrip("=")}
    return {f for f in forms if f}


def basic_credentials(user: str, password: str) -> str:
    """The base64 token of a Basic `Authorization` header for `user:password`."""
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


_PCT = re.compile(r"%[0-9A-F]{2}")
# A form this short is redacted only where it stands alone (not inside a longer word or
# number): everywhere, a secret 'ab' would blank every 'ab' of the log. Standing alone
# is how a value appears in a header, a query string, a JSON value or a form field.
_MIN_SECRET = 4
_ALONE = "(?<![A-Za-z0-9]){}(?![A-Za-z0-9])"
# The password of a URL's userinfo (scheme://user:PASSWORD@host) is a secret by where it
# stands, whether or not anyone registered it.
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*:)[^/?#@\s]*@")
# A text cut short ends so; the redactor then also looks for a secret's cut-off head.
_ELLIPSES = ("...", "\N{HORIZONTAL ELLIPSIS}")
_MIN_PREFIX = 8


class Redactor:
    """Replaces every known secret, in every form it can take, by `***`.

    Redact before truncating: a secret cut to its first 117 characters no longer
    matches, so :meth:`brief` is the one way to shorten a text that may hold one. As
    a second line, a text ending in an ellipsis loses a trailing cut-off secret head.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *values: object) -> None:
        """Register secret values (non-strings and empty strings are ignored).

        One under 4 characters is redacted only where it stands alone (see _ALONE).
        """
        for value in values:
            if isinstance(value, str) and value and value not in self._secrets:
                self._secrets.add(value)
                self._forms |= wire_forms(value)
                self._pattern = None

    def add_basic(self, user: str, password: str) -> None:
        """Register a password and the Basic-auth token it travels in."""
        self.add(password, basic_credentials(user, password))

    def __contains__(self, value: object) -> bool:
        return value in self._secrets

    def __call__(self, value: Any) -> Any:
        """`value` with every secret replaced, recursing into mappings and sequences."""
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, Mapping):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value

    def brief(self, value: str, limit: int = 120) -> str:
        """Redact, then shorten to `limit` characters with a trailing `...`."""
        text = self._text(value)
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def _text(self, text: str) -> str:
        if "@" in text and "://" in text:
            text = _USERINFO.sub(lambda m: m.group("head") + REDACTED + "@", text)
        if not self._secrets:
            return text
        if self._pattern is None:
            # One alternation, longest first, so a form never leaves a piece of a longer one.
            ordered = sorted(self._forms, key=len, reverse=True)
            self._pattern = re.compile(
                "|".join(
                    re.escape(f) if len(f) >= _MIN_SECRET else _ALONE.format(re.escape(f))
                    for f in ordered
                )
            )
        text = self._pattern.sub(REDACTED, text)
        return self._cut_head(text) if text.endswith(_ELLIPSES) else text

    def _cut_head(self, text: str) -> str:
        ellipsis = next(e for e in _ELLIPSES if text.endswith(e))
        body = text[: -len(ellipsis)]
        for form in sorted(self._forms, key=len, reverse=True):
            if len(form) < _MIN_PREFIX:
                continue
            for size in range(min(len(form), len(body)), _MIN_PREFIX - 1, -1):
                if body.endswith(form[:size]):
                    return body[:-size] + REDACTED + ellipsis
        return text


class EventLog:
    """An append-only list of events, optionally streamed to a JSON Lines file."""

    def __init__(self, redactor: Redactor | None = None, sink: TextIO | None = None) -> None:
        self.redactor = redactor or Redactor()
        self._events: list[Event] = []
        self._sink = sink

    def emit(self, event: Event) -> Event:
        redacted = self.redactor(dict(event.data))
        clean = event if redacted == event.data else dataclasses.replace(event, data=redacted)
        self._events.append(clean)
        if self._sink is not None:
            self._sink.write(clean.to_json() + "\n")
        return clean

    def clear(self) -> None:
        """Forget every event (a long benchmark keeps memory flat this way)."""
        self._events.clear()

    def __iter__(self) -> Iterator[Event]:
        return iter(list(self._events))

    def __len__(self) -> int:
        return len(self._events)

    def of_kind(self, *kinds: str) -> list[Event]:
        return [e for e in self._events if e.kind in kinds]

    def write_jsonl(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for event in self._events:
                fh.write(event.to_json() + "\n")
