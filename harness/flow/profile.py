"""The platform's limits in one object, so a user can model another platform."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CXONE", "PlatformProfile"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformProfile:
    """Limits the reference executor enforces, as the guide documents them for CXone."""

    name: str = "cxone"
    default_timeout_ms: int = 30_000
    max_timeout_ms: int = 90_000
    response_cap_bytes: int = 32 * 1024
    # The longest URL the platform sends, in characters as they go on the wire (percent-
    # encoded). CXone documents none for the REST API action; this is the HTTP client's:
    # .NET's System.Uri refuses a longer one (docs/flows.md says why this one).
    max_url_chars: int = 65_519
    max_concurrent_requests: int = 100
    default_initial_delay_ms: int = 200
    default_max_delay_ms: int = 2_000
    # A cached token is refreshed in the background once it is this close to expiry.
    token_refresh_ahead_ms: int = 60_000
    # The guide's alert rule: error rate over 5% in any 10-minute window.
    alert_error_rate: float = 0.05
    alert_window_ms: int = 600_000


CXONE = PlatformProfile()
