"""What can go wrong between the harness and a tenant's Flow API, by exit code.

::

    UnreachableError (exit 2)        the harness could not use the API
    +-- FlowApiError                 unreachable, retries spent, an answer not understood
        +-- CredentialsRefused       the token endpoint refused the client id or secret
    ContractFailure (exit 1)         the tenant refused the release
    +-- ScopeRefused                 the token lacks a scope the command needs (named)
    +-- VersionConflict              someone deployed the flow since it was read
    +-- DocumentRefused              the API refused a flow document (400)
    +-- ReadBackMismatch             what the tenant serves after a PUT is not what was sent
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.errors import ContractFailure, UnreachableError

if TYPE_CHECKING:
    from harness.platform.client import Deployed

__all__ = [
    "CredentialsRefused",
    "DocumentRefused",
    "FlowApiError",
    "ReadBackMismatch",
    "ScopeRefused",
    "VersionConflict",
]


class FlowApiError(UnreachableError):
    """The Flow API could not be used: no answer, retries spent, or an answer not understood."""


class CredentialsRefused(FlowApiError):
    """The token endpoint refused the client credentials."""


class ScopeRefused(ContractFailure):
    """The client's token lacks ``scope``; nothing that needs it was attempted or it got 403."""

    def __init__(self, scope: str, message: str) -> None:
        self.scope = scope
        super().__init__(f"missing scope {scope}", message)


class VersionConflict(ContractFailure):
    """The flow changed on the tenant since it was read; nothing was overwritten."""

    def __init__(self, flow_id: str, current: Deployed | None, message: str) -> None:
        self.flow_id = flow_id
        self.current = current
        super().__init__(f"version conflict on {flow_id}", message)


class DocumentRefused(ContractFailure):
    """The API answered 400 to a flow document the harness's own schema accepted."""

    def __init__(self, flow_id: str, message: str) -> None:
        self.flow_id = flow_id
        super().__init__(f"{flow_id} refused by the Flow API", message)


class ReadBackMismatch(ContractFailure):
    """After a PUT the tenant serves a different document than the one sent."""

    def __init__(self, flow_id: str, message: str) -> None:
        self.flow_id = flow_id
        super().__init__(f"read-back of {flow_id} differs", message)
