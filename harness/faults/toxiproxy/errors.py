"""API errors: Toxiproxy's ``{"error": message, "status": status}`` and its stock messages."""

from __future__ import annotations

__all__ = ["ApiError", "bad_body", "missing"]


class ApiError(Exception):
    """An API failure rendered as ``{"error": message, "status": status}``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def bad_body(detail: str) -> ApiError:
    return ApiError(f"bad request body: {detail}", 400)


def missing(field: str) -> ApiError:
    return ApiError(f"missing required field: {field}", 400)
