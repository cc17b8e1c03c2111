"""The faults that need a backend's answer, for any backend: `empty`, `accepted`, scope drift.

The reference backends apply these inside their own handlers (an empty CRM search, a
ticket job); a stub or a proxy in front of a team's own backend applies them here,
from the response it would otherwise send.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .faults import FaultSet, Trace
from .webhook import WebhookSender

__all__ = ["domain_fault", "emptied", "scope_refusal"]

_DOMAIN = frozenset({"accepted", "empty"})


def scope_refusal(faults: FaultSet) -> Response | None:
    """A 403 insufficient_scope once a `rotate_scopes` fault moved the required scopes."""
    scopes = faults.rotated_scopes()
    if scopes is None:
        return None
    wanted = " ".join(scopes)
    challenge = f'Bearer error="insufficient_scope", scope="{wanted}"'
    return JSONResponse(
        {"error": "insufficient_scope", "scope": wanted},
        status_code=403,
        headers={"www-authenticate": challenge},
    )


def domain_fault(
    faults: FaultSet, request: Request, sender: WebhookSender, jobs: list[str]
) -> tuple[str, Response | None]:
    """`("empty", None)` when the body must be emptied, a 202 for `accepted`, else ("", None)."""
    refusal = scope_refusal(faults)
    if refusal is not None:
        return "rotate_scopes", refusal
    spec = faults.take(_DOMAIN, request.method, request.url.path, Trace.of(request.headers))
    if spec is None:
        return "", None
    if spec.kind == "empty":
        return "empty", None
    jobs.append(f"JOB-{len(jobs) + 1:06d}")
    job_id = jobs[-1]
    if spec.callback_url is not None and spec.callback_after_ms is not None:
        correlation = job_id
        if spec.correlation_header:
            correlation = request.headers.get(spec.correlation_header) or job_id
        payload = {"correlationId": correlation, "jobId": job_id, "status": "completed"}
        sender.schedule(
            job_id=job_id, url=spec.callback_url, after_ms=spec.callback_after_ms,
            payload=lambda: payload,
        )  # fmt: skip
    return "accepted", JSONResponse(
        {"job_id": job_id, "status": "pending"},
        status_code=202,
        headers={"location": f"/jobs/{job_id}"},
    )


def emptied(body: Any) -> Any:
    """The body with its arrays emptied: what "no match" looks like from a search API."""
    if isinstance(body, list):
        return []
    if isinstance(body, dict):
        if not any(isinstance(v, list) for v in body.values()):
            return {**body, "data": []}
        return {k: ([] if isinstance(v, list) else v) for k, v in body.items()}
    return {"data": []}
