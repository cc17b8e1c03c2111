"""The OpenAPI 3 document of one generated backend, built operation by operation.

What a team's spec usually holds: `servers` with the host (and sometimes a base path),
one security scheme enforced on every operation, path and query parameters with the
patterns the API really checks, an `Idempotency-Key` header on writes, JSON bodies with
examples, the error statuses the API documents, and for an asynchronous write a 202
with `Location` and the webhook it calls back (`callbacks`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Operation", "SpecBuilder"]

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}
_DESCRIPTIONS = {
    "400": "the request is invalid",
    "401": "credentials missing or rejected",
    "403": "credentials lack a scope",
    "404": "no such resource",
    "409": "conflicts with an earlier request (same idempotency key, other body)",
    "429": "rate limited; see Retry-After",
    "503": "temporarily unavailable; see Retry-After",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Param:
    name: str
    where: str  # path | query | header
    schema: Mapping[str, Any]
    required: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """One operation as the flow calls it and the backend documents it."""

    method: str  # lower case, as OpenAPI keys it
    path: str  # relative to the server's base path, OpenAPI template syntax
    operation_id: str
    summary: str
    params: tuple[Param, ...] = ()
    body: Mapping[str, Any] | None = None  # JSON schema of the request body
    body_example: Any = None
    form_body: bool = False  # application/x-www-form-urlencoded (the token endpoint)
    status: int = 200
    response: Mapping[str, Any] | None = None  # JSON schema of the 2xx body
    example: Any = None
    errors: tuple[int, ...] = (400, 401, 503)
    accepted: bool = False  # also answers 202 + Location, then calls a webhook back


@dataclass(slots=True, kw_only=True)
class SpecBuilder:
    """Collects the operations of one host into an OpenAPI 3.0 document."""

    host: str
    title: str
    base_path: str = ""
    security: Mapping[str, Any] | None = None  # one scheme, applied to every operation
    operations: list[Operation] = field(default_factory=list)

    def add(self, op: Operation) -> None:
        self.operations.append(op)

    def document(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            paths.setdefault(op.path, {})[op.method] = _operation(op)
        doc: dict[str, Any] = {
            "openapi": "3.0.3",
            "info": {"title": self.title, "version": "1.0.0"},
            "servers": [{"url": f"https://{self.host}{self.base_path}"}],
        }
        if self.security is not None:
            doc["components"] = {"securitySchemes": {"auth": dict(self.security)}}
            doc["security"] = [{"auth": []}]
        doc["paths"] = paths
        return doc


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary}
    if op.params:
        out["parameters"] = [
            {"name": p.name, "in": p.where, "required": p.required, "schema": dict(p.schema)}
            for p in op.params
        ]
    if op.form_body:
        out["requestBody"] = {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "scope": {"type": "string"},
                        },
                    }
                }
            },
        }
    elif op.body is not None:
        media: dict[str, Any] = {"schema": dict(op.body)}
        if op.body_example is not None:
            media["example"] = op.body_example
        out["requestBody"] = {"required": True, "content": {"application/json": media}}
    responses: dict[str, Any] = {str(op.status): _success(op)}
    if op.accepted:
        responses["202"] = {
            "description": "accepted: the result is sent to the caller's webhook later",
            "headers": {"Location": {"schema": {"type": "string"}}},
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["job_id", "status"],
                        "properties": {
                            "job_id": {"type": "string"},
                            "status": {"type": "string", "enum": ["pending"]},
                        },
                    },
                    "example": {"job_id": "JOB-000001", "status": "pending"},
                }
            },
        }
        out["callbacks"] = {"completed": _callback()}
    for status in op.errors:
        responses[str(status)] = _error(status)
    out["responses"] = responses
    return out


def _success(op: Operation) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "OK" if op.status == 200 else "created"}
    if op.response is not None:
        media: dict[str, Any] = {"schema": dict(op.response)}
        if op.example is not None:
            media["example"] = op.example
        success["content"] = {"application/json": media}
    return success


def _error(status: int) -> dict[str, Any]:
    error: dict[str, Any] = {
        "description": _DESCRIPTIONS.get(str(status), "error"),
        "content": {"application/json": {"schema": dict(_ERROR)}},
    }
    if status in (429, 503):
        error["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}}
    return error


def _callback() -> dict[str, Any]:
    payload = {
        "type": "object",
        "required": ["correlationId", "jobId", "status"],
        "properties": {
            "correlationId": {"type": "string"},
            "jobId": {"type": "string"},
            "status": {"type": "string", "enum": ["completed", "failed"]},
        },
    }
    return {
        # Registered with the API out of band, as CXone webhooks are; keyed by the
        # request's X-Correlation-Id, which the flow's Wait listens for.
        "https://webhooks.tenant.invalid/callbacks": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": payload}},
                },
                "responses": {"202": {"description": "the callback was received"}},
            }
        }
    }
