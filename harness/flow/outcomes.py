"""The outcome classes of an HTTP Request step: what `http_outcome` can be, and when.

One home for the vocabulary the executor produces, the lint's router evaluation
walks, the consumer contract routes and the scenarios assert on.
"""

from __future__ import annotations

__all__ = [
    "OUTCOMES",
    "OUTCOME_CLASSES",
    "OUTCOME_VARIABLES",
    "SUCCESSFUL",
    "classify",
]

# Every value `http_outcome` takes after an HTTPRequest step.
OUTCOMES = (
    "success",
    "accepted",
    "http_error",
    "timeout",
    "connection_error",
    "dns_error",
    "auth_error",
    "circuit_open",
    "too_large",
)

# The outcomes that carry a usable response (mappings apply, no error branch).
SUCCESSFUL = frozenset({"success", "accepted"})

# The variables an HTTPRequest step sets besides its responseMapping.
OUTCOME_VARIABLES = frozenset(
    {
        "http_status_code",
        "http_outcome",
        "http_attempts",
        "http_elapsed_ms",
        "http_location",
        "http_error_code",
    }
)

# Representative outcome classes: class name -> (http_status_code, http_outcome).
OUTCOME_CLASSES: dict[str, tuple[int, str]] = {
    "2xx": (200, "success"),
    "202": (202, "accepted"),
    "400": (400, "http_error"),
    "401": (401, "auth_error"),
    "403": (403, "auth_error"),
    "404": (404, "http_error"),
    "429": (429, "http_error"),
    "5xx": (503, "http_error"),
    "timeout": (0, "timeout"),
    "connection": (0, "connection_error"),
    # A body over the platform's cap keeps its 200 and leaves the mapped variables null.
    "too_large": (200, "too_large"),
}


def classify(status: int) -> str:
    """The `http_outcome` of a complete response with this status."""
    if status == 202:
        return "accepted"
    if 200 <= status < 300:
        return "success"
    if status in (401, 403):
        return "auth_error"
    return "http_error"
