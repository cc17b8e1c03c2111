"""Ticket service (the guide's api.service-provider.com): create, read, and the 202 pattern."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any

import jsonschema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .faults import Trace
from .state import SharedState
from .webhook import WebhookSender

__all__ = ["TICKET_REQUEST_SCHEMA", "routes"]

# Kept equal to contracts/openapi/tickets.yaml#/components/schemas/TicketRequest
# (a test compares them), so the contract and the server can never disagree.
TICKET_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["account_id", "phone", "priority", "source"],
    "additionalProperties": False,
    "properties": {
        "account_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "phone": {"type": "string", "pattern": "^\\+[1-9][0-9]{1,14}$"},
        "priority": {"type": "string", "enum": ["HIGH", "NORMAL"]},
        "source": {"type": "string", "minLength": 1, "maxLength": 64},
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(TICKET_REQUEST_SCHEMA)
# Minutes promised to the caller, by priority.
_RESOLUTION = {"HIGH": 30, "NORMAL": 120}


def routes(state: SharedState, sender: WebhookSender) -> list[BaseRoute]:
    """``POST /v1/tickets``, ``GET /v1/tickets/{id}``, ``GET /v1/tickets/jobs/{jobId}``."""

    async def create(request: Request) -> Response:
        refusal = _check_key(state, request)
        if refusal is not None:
            return refusal
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _invalid("body is not JSON", "")
        error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(body))
        if error is not None:
            pointer = "".join(f"/{part}" for part in error.absolute_path)
            return _invalid(error.message, pointer)
        accepted = state.faults["tickets"].take(
        frozenset({"accepted"}), "POST", request.url.path, Trace.of(request.headers)
    )
        if accepted is not None:
            correlation = request.headers.get("x-correlation-id")
            return _accept(
                state, sender, body, correlation, accepted.callback_url, accepted.callback_after_ms
            )
        key = request.headers.get("idempotency-key")
        fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if key is not None and key in state.idempotency:
            ticket_id, seen = state.idempotency[key].split(":", 1)
            if seen != fingerprint:
                body = {
                    "error": "idempotency_key_reused",
                    "message": "this Idempotency-Key was used with a different body",
                }
                return JSONResponse(body, status_code=409)
            replayed = state.tickets.get(ticket_id)
            if replayed is not None:
                return _created(replayed, {"idempotent-replayed": "true"})
            # The ticket was forgotten (a long load run keeps the most recent ones): the
            # key has expired, as a real system's does, and a new ticket is made.
        ticket = _new_ticket(state, body)
        if key is not None:
            state.remember(state.idempotency, key, f"{ticket['id']}:{fingerprint}")
        return _created(ticket, {})

    async def read(request: Request) -> Response:
        refusal = _check_key(state, request)
        if refusal is not None:
            return refusal
        ticket = state.tickets.get(request.path_params["ticket_id"])
        if ticket is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(ticket)

    async def job(request: Request) -> Response:
        refusal = _check_key(state, request)
        if refusal is not None:
            return refusal
        found = state.jobs.get(request.path_params["job_id"])
        if found is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(found)

    return [
        Route("/v1/tickets", create, methods=["POST"]),
        Route("/v1/tickets/jobs/{job_id}", job, methods=["GET"]),
        Route("/v1/tickets/{ticket_id}", read, methods=["GET"]),
    ]


def _check_key(state: SharedState, request: Request) -> Response | None:
    given = request.headers.get("x-api-key", "")
    if secrets.compare_digest(given.encode(), state.config.api_key.encode()):
        return None
    return JSONResponse(
        {"error": "invalid_api_key", "message": "missing or wrong X-API-Key"}, status_code=401
    )


def _invalid(message: str, pointer: str) -> Response:
    body = {"error": "invalid_request", "message": message, "pointer": pointer}
    return JSONResponse(body, status_code=400)


def _created(ticket: dict[str, Any], headers: dict[str, str]) -> Response:
    headers = {**headers, "location": f"/v1/tickets/{ticket['id']}"}
    return JSONResponse(ticket, status_code=201, headers=headers)


def _new_ticket(state: SharedState, body: dict[str, Any]) -> dict[str, Any]:
    ticket = {
        "id": state.next_id("TCK"),
        "case_number": state.next_id("CASE"),
        "status": "open",
        "account_id": body["account_id"],
        "phone": body["phone"],
        "priority": body["priority"],
        "source": body["source"],
        "created_at": _iso(state.clock.wall_ms()),
        "metadata": {"estimated_resolution_minutes": _RESOLUTION[body["priority"]]},
    }
    state.remember(state.tickets, ticket["id"], ticket)
    return ticket


def _accept(
    state: SharedState,
    sender: WebhookSender,
    body: dict[str, Any],
    correlation: str | None,
    url: str | None,
    after_ms: int | None,
) -> Response:
    job_id = state.next_id("JOB")
    state.remember(state.jobs, job_id, {"job_id": job_id, "status": "pending"})

    def complete() -> dict[str, Any]:
        # The ticket exists only once the job completes, as with a real async backend.
        ticket = _new_ticket(state, body)
        if job_id in state.jobs:  # not forgotten meanwhile
            state.jobs[job_id] = {"job_id": job_id, "status": "completed", "ticket": ticket}
        return {
            "correlationId": correlation or job_id,
            "jobId": job_id,
            "status": "completed",
            "ticket": ticket,
        }

    if url is not None and after_ms is not None:
        sender.schedule(job_id=job_id, url=url, after_ms=after_ms, payload=complete)
    location = f"/v1/tickets/jobs/{job_id}"
    return JSONResponse(
        {"job_id": job_id, "status": "pending"}, status_code=202, headers={"location": location}
    )


def _iso(wall_ms: int) -> str:
    return datetime.fromtimestamp(wall_ms / 1000, UTC).isoformat(timespec="seconds")
