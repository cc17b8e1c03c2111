"""The `configuration` of an HTTPRequest step, parsed into typed values (timeouts,
retries, breaker) — what the lint, the budget and the executor all read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError
from harness.flow.expr import MISSING
from harness.flow.model import Flow, Step
from harness.flow.profile import PlatformProfile

__all__ = ["MISSING", "BreakerConfig", "HttpStepConfig", "RetryPolicy", "parse_http_config"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerConfig:
    key: str
    failure_threshold: int = 3
    cooldown_ms: int = 30_000
    count_on: frozenset[str] = field(
        default_factory=lambda: frozenset({"5xx", "timeout", "connection"})
    )

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> BreakerConfig:
        return cls(
            key=str(raw["key"]),
            failure_threshold=int(raw.get("failureThreshold", 3)),
            cooldown_ms=int(raw.get("cooldownMs", 30_000)),
            count_on=frozenset(raw.get("countOn", ["5xx", "timeout", "connection"])),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    max_retries: int = 0
    backoff: str = "exponential"
    initial_delay_ms: int = 200
    max_delay_ms: int = 2_000
    retry_on_status: frozenset[int] = frozenset()
    retry_on_timeout: bool = True
    jitter: bool = False

    def delay_ms(self, retry_number: int) -> float:
        """The backoff before retry `retry_number` (1-based), before jitter."""
        if self.backoff == "none":
            return 0.0
        if self.backoff == "fixed":
            return float(min(self.initial_delay_ms, self.max_delay_ms))
        return float(min(self.initial_delay_ms * 2 ** (retry_number - 1), self.max_delay_ms))


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpStepConfig:
    url: str
    method: str
    timeout_ms: int
    timeout_explicit: bool
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = MISSING
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    auth: Mapping[str, Any] | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    default_response: Any = MISSING
    breaker: BreakerConfig | None = None

    @property
    def attempts(self) -> int:
        return 1 + self.retry.max_retries


def parse_retry(raw: Mapping[str, Any] | None, profile: PlatformProfile) -> RetryPolicy:
    if not raw:
        return RetryPolicy(
            initial_delay_ms=profile.default_initial_delay_ms,
            max_delay_ms=profile.default_max_delay_ms,
        )
    return RetryPolicy(
        max_retries=int(raw.get("maxRetries", 0)),
        backoff=str(raw.get("backoff", "exponential")),
        initial_delay_ms=int(raw.get("initialDelayMs", profile.default_initial_delay_ms)),
        max_delay_ms=int(raw.get("maxDelayMs", profile.default_max_delay_ms)),
        retry_on_status=frozenset(int(s) for s in raw.get("retryOnStatusCodes", [])),
        retry_on_timeout=bool(raw.get("retryOnTimeout", True)),
        jitter=raw.get("jitter") == "full",
    )


# Steps are immutable values: each is parsed once per profile, whoever asks first (the
# budget, the executor, an expectation). Keyed by identity, holding the step so its id
# cannot be reused while the entry lives.
_PARSED: dict[tuple[int, PlatformProfile], tuple[Step, HttpStepConfig]] = {}
_PARSED_MAX = 4096


def parse_http_config(
    step: Step, profile: PlatformProfile, flow: Flow | None = None
) -> HttpStepConfig:
    """Typed view of an HTTPRequest step; a timeout over the platform maximum is invalid."""
    cached = _PARSED.get((id(step), profile))
    if cached is not None and cached[0] is step:
        return cached[1]
    config = _parse(step, profile, flow)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[(id(step), profile)] = (step, config)
    return config


def _parse(step: Step, profile: PlatformProfile, flow: Flow | None) -> HttpStepConfig:
    raw = step.config
    timeout = raw.get("timeout")
    if timeout is not None and int(timeout) > profile.max_timeout_ms:
        raise ConfigError(
            f"timeout {timeout} ms exceeds the platform maximum of {profile.max_timeout_ms} ms",
            file=flow.path if flow else None,
            pointer=f"{step.pointer}/configuration/timeout",
            hint=f"use at most {profile.max_timeout_ms}; 5000 for customer-facing lookups",
        )
    breaker = raw.get("circuitBreaker")
    return HttpStepConfig(
        url=str(raw["url"]),
        method=str(raw["method"]).upper(),
        timeout_ms=int(timeout) if timeout is not None else profile.default_timeout_ms,
        timeout_explicit=timeout is not None,
        headers=dict(raw.get("headers", {})),
        body=raw.get("body", MISSING),
        retry=parse_retry(raw.get("retryPolicy"), profile),
        auth=raw.get("authentication"),
        mapping=dict(raw.get("responseMapping", {})),
        default_response=raw.get("defaultResponse", MISSING),
        breaker=BreakerConfig.from_json(breaker) if breaker else None,
    )
