"""The state the reference backends share in one process.

The OAuth server signs tokens with a secret the CRM verifies, the ticket
service hands jobs to the webhook sender, and each backend has its own fault
set and request log. Keeping all of it in one object is what lets a test say
"the token endpoint was called twice" without any extra plumbing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.clock import Clock, RealClock

from .faults import FaultSet, RequestLog
from .faultspec import KINDS

__all__ = [
    "BACKENDS",
    "DEFAULT_SCOPES",
    "Account",
    "BackendConfig",
    "SharedState",
    "fault_kinds",
    "seed_accounts",
]

BACKENDS = ("crm", "tickets", "oauth")
# The scopes the guide's CRM lookup requests; required by the CRM until rotated.
DEFAULT_SCOPES = ("crm:read", "accounts:query")
# What the token server can issue besides whatever a rotation introduces.
_ISSUABLE = ("crm:read", "accounts:query", "crm:read:v2", "tickets:write")

# Kinds only one backend can make sense of; everything else applies everywhere.
_ONLY_ON = {"empty": "crm", "rotate_scopes": "crm", "accepted": "tickets"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """A seeded CRM account."""

    id: str
    phone: str
    name: str
    loyalty_tier: str
    support_tickets: int

    def to_json(self) -> dict[str, Any]:
        """The account as the CRM serves it."""
        return {
            "id": self.id,
            "phone": self.phone,
            "name": self.name,
            "attributes": {
                "loyalty_tier": self.loyalty_tier,
                "support_tickets": self.support_tickets,
            },
        }


def seed_accounts() -> tuple[Account, ...]:
    """The deterministic account dataset (the guide's caller first)."""
    return (
        Account(id="ACC-1001", phone="+14155552671", name="Ada Lovelace",
                loyalty_tier="PLATINUM", support_tickets=2),
        Account(id="ACC-1002", phone="+14155550123", name="Grace Hopper",
                loyalty_tier="GOLD", support_tickets=0),
        Account(id="ACC-1003", phone="+442071838750", name="Alan Turing",
                loyalty_tier="SILVER", support_tickets=1),
        Account(id="ACC-1004", phone="+14155550199", name="Edsger Dijkstra",
                loyalty_tier="STANDARD", support_tickets=5),
    )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendConfig:
    """Settings fixed for the lifetime of a set of backends."""

    api_key: str = "test-api-key"
    clients: Mapping[str, str] = field(default_factory=lambda: {"ivr-client": "secret"})
    token_ttl_s: int = 3600
    seed: int = 0
    # A fresh random secret per run unless a test needs to forge tokens.
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    issuer: str = "http://auth.crm-provider.com"


class SharedState:
    """Everything the backends share: config, data, tokens, faults, logs."""

    def __init__(self, config: BackendConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or RealClock()
        self.accounts = {account.phone: account for account in seed_accounts()}
        self.faults = {
            name: FaultSet(name, allowed_kinds=_kinds_for(name), seed=config.seed + index)
            for index, name in enumerate(BACKENDS)
        }
        self.logs = {name: RequestLog() for name in BACKENDS}
        self.tickets: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, str] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self._ids: dict[str, int] = {}
        self.retain: int | None = None
        """Keep only the most recent this many tickets, jobs and idempotency keys (a long
        load run, where they would grow with every call); None keeps them all."""

    def remember(self, store: dict[str, Any], key: str, value: Any) -> None:
        """Store a ticket, job or idempotency key; past `retain`, the oldest are forgotten."""
        store[key] = value
        if self.retain is not None:
            while len(store) > self.retain:
                del store[next(iter(store))]

    def next_id(self, prefix: str) -> str:
        """Deterministic ids: TCK-000001, CASE-000001, JOB-000001, ..."""
        self._ids[prefix] = self._ids.get(prefix, 0) + 1
        return f"{prefix}-{self._ids[prefix]:06d}"

    def required_scopes(self) -> tuple[str, ...]:
        """The scopes the CRM requires now (a `rotate_scopes` fault changes them)."""
        return self.faults["crm"].rotated_scopes() or DEFAULT_SCOPES

    def issuable_scopes(self) -> frozenset[str]:
        """The scopes the token server grants: the usual ones plus any rotated in."""
        return frozenset(_ISSUABLE) | frozenset(self.required_scopes())

    @property
    def token_requests(self) -> int:
        """How many requests reached ``POST /oauth/token`` (faulted ones included)."""
        return sum(
            1
            for entry in self.logs["oauth"].entries()
            if entry.method == "POST" and entry.path == "/oauth/token"
        )


def _kinds_for(backend: str) -> frozenset[str]:
    return frozenset(k for k in KINDS if _ONLY_ON.get(k, backend) == backend)


def fault_kinds(backend: str) -> frozenset[str]:
    """The HTTP fault kinds backend `backend` understands (a scenario is checked against it)."""
    return _kinds_for(backend)
