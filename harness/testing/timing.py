"""Worst-case time of an HTTP Request step, computed from docs/flows.md alone.

The generator uses it to keep every correct IVR inside its dead-air budget, and the
planter to decide whether a planted timeout or retry change breaks that budget. It is
deliberately a second, independent reading of the documented retry rules (not
`harness.flow.budget`): an oracle must not be the code it judges.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_TIMEOUT_MS", "timeout_class_ms", "worst_case_ms"]

DEFAULT_TIMEOUT_MS = 30_000  # the platform default when `timeout` is absent
_RETRY_AFTER = frozenset({429, 503})


def worst_case_ms(config: Mapping[str, Any], *, inline_token: bool = False) -> int:
    """The longest an HTTP step with this `configuration` can keep a caller waiting.

    Every attempt may run to its timeout; each retry waits its backoff, or `maxDelayMs`
    when a 429/503 is retried (a `Retry-After` up to `maxDelayMs` replaces the backoff).
    An inline OAuth2 token fetch costs one timeout per attempt, one more for a refresh,
    and one extra attempt after a 401.
    """
    timeout = int(config.get("timeout", DEFAULT_TIMEOUT_MS))
    policy = config.get("retryPolicy") or {}
    retries = int(policy.get("maxRetries", 0))
    backoff = str(policy.get("backoff", "exponential"))
    initial = int(policy.get("initialDelayMs", 200))
    cap = int(policy.get("maxDelayMs", 2000))
    statuses = {int(s) for s in policy.get("retryOnStatusCodes", [])}
    retry_after = cap if statuses & _RETRY_AFTER else 0
    total = (1 + retries) * timeout
    for n in range(1, retries + 1):
        if backoff == "none":
            delay = 0
        elif backoff == "fixed":
            delay = min(initial, cap)
        else:
            delay = min(initial * 2 ** (n - 1), cap)
        total += max(delay, retry_after)
    if inline_token:
        total += (2 + retries) * timeout + timeout
    return total


def timeout_class_ms(config: Mapping[str, Any]) -> int:
    """How long a backend that never answers keeps a caller waiting at this step: every
    attempt runs to its timeout when timeouts are retried (`retryOnTimeout`, default
    true), one attempt otherwise, and no more than the step's breaker lets through when
    it counts timeouts; each retry waits its backoff (no `Retry-After`)."""
    timeout = int(config.get("timeout", DEFAULT_TIMEOUT_MS))
    policy = config.get("retryPolicy") or {}
    retries = int(policy.get("maxRetries", 0)) if policy.get("retryOnTimeout", True) else 0
    breaker = config.get("circuitBreaker") or {}
    if "timeout" in breaker.get("countOn", ()):  # the breaker opens within the call
        retries = min(retries, int(breaker.get("failureThreshold", retries + 1)) - 1)
    backoff = str(policy.get("backoff", "exponential"))
    initial = int(policy.get("initialDelayMs", 200))
    cap = int(policy.get("maxDelayMs", 2000))
    total = (1 + retries) * timeout
    for n in range(1, retries + 1):
        if backoff == "fixed":
            total += min(initial, cap)
        elif backoff != "none":
            total += min(initial * 2 ** (n - 1), cap)
    return total
