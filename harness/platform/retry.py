"""The Flow API client's resilience: one deadline per request, a bounded retry budget.

Asked of the client what the harness asks of a flow's HTTP Request step: every request
runs under one deadline covering connect to last byte (:func:`harness.executor.deadline.within`);
429, 408 and 5xx answers, timeouts and connection errors are retried with exponential
backoff, a ``Retry-After`` replacing the backoff; a logical request gives up after
``attempts`` tries or once its waits would pass ``retry_budget_s``, whichever comes first.
Whether a failed write may be retried at all is the caller's decision (it reads back).
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.clock import Clock
from harness.events import Redactor
from harness.platform.errors import FlowApiError

__all__ = ["RETRYABLE", "Attempts", "Reply", "RetryPolicy", "retry_after_s"]

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How hard one logical request tries."""

    timeout_s: float = 10.0  # one deadline per request, connect to last byte
    attempts: int = 5
    backoff_s: float = 0.25  # doubled after each failure ...
    max_backoff_s: float = 4.0  # ... up to this
    retry_budget_s: float = 30.0  # the most one request waits between its attempts


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """One exchange: the answer, or why there was none."""

    status: int = 0  # 0: no answer
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    failure: str = ""  # "timeout", "connection refused", "connection error (...)"
    sent: bool = True  # the request may have reached the server

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE or (self.status == 0 and bool(self.failure))

    @property
    def reason(self) -> str:
        return self.failure or f"HTTP {self.status}"

    def fields(self) -> dict[str, Any]:
        """The answer's JSON object (the platform's error shape), or {}."""
        try:
            body = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return {}
        return body if isinstance(body, dict) else {}

    @property
    def error_code(self) -> str:
        return str(self.fields().get("error", ""))

    def detail(self, redactor: Redactor) -> str:
        """What the answer says went wrong, redacted and shortened."""
        found = self.fields()
        text = found.get("error_description") or found.get("error")
        if not text:
            text = self.body.decode("utf-8", "replace")
        return redactor.brief(str(text), 200)


def retry_after_s(value: str | None, wall_ms: int) -> float | None:
    """Seconds a ``Retry-After`` asks for (delta-seconds or an HTTP date), None if absent or bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - wall_ms / 1000)


class Attempts:
    """The attempts and waits of one logical request; :meth:`pause` before each retry."""

    def __init__(
        self, what: str, policy: RetryPolicy, clock: Clock, emit: Callable[..., Any]
    ) -> None:
        self.what = what
        self.policy = policy
        self.clock = clock
        self.emit = emit
        self.used = 0
        self.waited_s = 0.0

    async def pause(self, reply: Reply) -> None:
        """Wait before the next attempt, or raise :class:`FlowApiError` when the budget is spent."""
        policy = self.policy
        if self.used >= policy.attempts:
            raise FlowApiError(
                f"{self.what}: gave up after {self.used} attempts, the last: {reply.reason}"
            )
        asked = retry_after_s(reply.headers.get("retry-after"), self.clock.wall_ms())
        backoff = min(policy.max_backoff_s, policy.backoff_s * 2 ** (self.used - 1))
        delay = asked if asked is not None else backoff
        if self.waited_s + delay > policy.retry_budget_s:
            raise FlowApiError(
                f"{self.what}: gave up after {self.used} attempts ({reply.reason}): waiting "
                f"{delay:g} s more would pass the {policy.retry_budget_s:g} s retry budget"
            )
        self.emit(
            "flowapi_wait",
            request=self.what,
            seconds=delay,
            reason=reply.reason,
            retry_after=asked is not None,
        )
        await self.clock.sleep(delay)
        self.waited_s += delay
