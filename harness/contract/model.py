"""Values the contract checks produce."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["CHECKS", "ContractFinding", "Severity"]

Severity = Literal["error", "warning", "note"]

CHECKS: dict[str, str] = {
    "operation-match": "every HTTP step matches an operation of its host's spec",
    "injection": "templates stay valid JSON / well-formed URLs / clean headers for any value",
    "request-schema": "rendered parameters and bodies validate against the operation",
    "response-mapping": "every responseMapping path exists in the documented 2xx schemas",
    "status-routing": "every documented status is routed on purpose, not to the 2xx branch",
    "unsupported": "spec parts the checker cannot evaluate (reported, not failed)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractFinding:
    """One consumer-contract result at one step (or one spec, for ``unsupported``)."""

    check: str
    severity: Severity
    message: str
    flow_id: str = ""
    step_id: str = ""
    file: str | None = None
    pointer: str = ""
    spec: str = ""
    spec_pointer: str = ""
    mapping: str = ""
    example: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.flow_id}/{self.step_id}" if self.step_id else (self.spec or "-")

    def line(self) -> str:
        """One readable line: where, what, and the failing example when there is one."""
        text = f"{self.where}: {self.message}"
        if self.mapping:
            text = f"{self.where}: mapping '{self.mapping}': {self.message}"
        if self.spec_pointer and self.spec_pointer not in text:
            text += f" [{self.spec} {self.spec_pointer}]"
        if self.example:
            text += f" -- e.g. {self.example}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "flow_id": self.flow_id,
            "step_id": self.step_id,
            "file": self.file,
            "pointer": self.pointer,
            "spec": self.spec,
            "spec_pointer": self.spec_pointer,
            "mapping": self.mapping,
            "example": self.example,
        }
