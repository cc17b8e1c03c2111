"""Audit events: the guide's Event Analytics trail, kept as JSON Lines.

Every attempt, error code, response-body hash, wait, token fetch and breaker
transition is an :class:`Event`. The executor and runner emit them into an
:class:`EventLog`; reporters consume them. Secrets are redacted on the way in,
so nothing downstream can leak them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

__all__ = ["REDACTED", "Event", "EventLog", "Redactor", "looks_secret"]

_SECRET_WORDS = ("secret", "password", "token", "api_key", "apikey", "credential")


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


class Redactor:
    """Replaces every known secret value, wherever it appears, by `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *values: object) -> None:
        for value in values:
            # Very short values would redact half the log and protect nothing.
            if isinstance(value, str) and len(value) >= 4:
                self._secrets.add(value)

    def __call__(self, value: Any) -> Any:
        if not self._secrets:
            return value
        if isinstance(value, str):
            for secret in sorted(self._secrets, key=len, reverse=True):
                value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, Mapping):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value


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
