"""Lint values: the rule registry and the findings rules produce."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["RULES", "SEVERITIES", "Finding", "Rule", "Severity", "rule_by_id"]

Severity = Literal["error", "warning", "note"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "note")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A lint rule: a stable id, a short name, and the guide's trap it encodes."""

    id: str
    name: str
    severity: Severity
    rationale: str
    help: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One problem at one place of one flow file."""

    rule_id: str
    severity: Severity
    message: str
    flow_id: str
    step_id: str
    file: Path | None
    pointer: str
    line: int
    column: int
    rationale: str

    @property
    def rule(self) -> Rule:
        return rule_by_id(self.rule_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "rule_name": self.rule.name,
            "severity": self.severity,
            "message": self.message,
            "flow_id": self.flow_id,
            "step_id": self.step_id,
            "file": str(self.file) if self.file else None,
            "pointer": self.pointer,
            "line": self.line,
            "column": self.column,
            "rationale": self.rationale,
        }


def _rule(id: str, name: str, severity: Severity, rationale: str, help: str) -> Rule:
    return Rule(id=id, name=name, severity=severity, rationale=rationale, help=help)


_G = "guide"
RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        _rule(
            "IVR001",
            "missing-timeout",
            "error",
            f"{_G} 1, The Trap: without an explicit timeout CXone waits 30 s and the flow "
            "thread blocks, playing dead air.",
            "Set `timeout` (5000 ms for customer-facing lookups, 3000 for routing).",
        ),
        _rule(
            "IVR002",
            "slow-customer-timeout",
            "warning",
            f"{_G} 1, Architectural Reasoning: customer-facing lookups get at most a 5-second "
            "timeout.",
            "Lower `timeout` to 5000 ms or less on steps a caller waits for.",
        ),
        _rule(
            "IVR003",
            "retry-on-4xx",
            "error",
            f"{_G} 4, The Trap: a 4xx is a misconfiguration or missing record; retrying it "
            "hides the signal and adds dead air.",
            "Remove 4xx codes (other than 408/429) from `retryOnStatusCodes`; route them.",
        ),
        _rule(
            "IVR004",
            "unsafe-retry",
            "error",
            "Prerequisites: the target must enforce idempotency for retry-safe operations; "
            "a retried POST/PATCH without a key can create duplicates.",
            "Send an `Idempotency-Key` header (e.g. `{{flow_execution_id}}`) or do not retry.",
        ),
        _rule(
            "IVR005",
            "token-on-caller-path",
            "warning",
            f"{_G} 2, The Trap: fetching the OAuth token inside the step puts token "
            "latency in the caller path; a throttling identity provider stalls the IVR.",
            "Read a token cached by a scheduled job (DataAPI get) or keep the inline "
            "fetch's worst-case cost inside the dead-air budget.",
        ),
        _rule(
            "IVR006",
            "unguarded-index",
            "error",
            f'{_G} Edge Case 3: `$.data[0]` on `{{"data": []}}` fails and the caller hears '
            "the error tone.",
            "Guard it: `$.data && $.data.length > 0 ? $.data[0] : null`, set `defaultResponse`, "
            "or route on the mapped variable's null right after the step.",
        ),
        _rule(
            "IVR007",
            "unencoded-url-variable",
            "error",
            f"{_G} 3, The Trap: a raw variable concatenated into a URL breaks the request "
            "router on special characters.",
            "Wrap it: `{{encodeUriComponent(var)}}`.",
        ),
        _rule(
            "IVR008",
            "template-injection",
            "error",
            f"{_G} 3, The Trap: substitution is textual, so a value with a quote breaks (or "
            "rewrites) a JSON body string or a quoted expression.",
            "Use an object `body` with `{{var}}` values, and bare variables in expressions.",
        ),
        _rule(
            "IVR009",
            "mapping-not-jsonpath",
            "error",
            f"{_G} 2: response mapping uses JSONPath to extract fields; an operator in a "
            "mapping is not a JSONPath and is not evaluated.",
            "Map the raw field and compute the value in a DataAPI `evaluate` step.",
        ),
        _rule(
            "IVR010",
            "unformatted-validation",
            "error",
            f"{_G} 3, The Trap: raw DTMF is not E.164; validating it instead of the "
            "formatted value rejects every good number (or passes a bad one).",
            "Validate the result of `formatPhoneNumber(...)`, not the raw digits.",
        ),
        _rule(
            "IVR011",
            "error-routed-to-success",
            "error",
            f"{_G} 4, The Trap: collapsing error classes hides operational signals; an "
            "error reaching the success branch silently corrupts the call.",
            "Give 401/403/404/429/202 and status 0 their own branches before any catch-all.",
        ),
        _rule(
            "IVR012",
            "no-timeout-fallback",
            "error",
            f"{_G} 4, Architectural Reasoning: timeouts trigger a retry or a fallback; "
            "without one the caller is routed as if the call succeeded or dead-ends.",
            "Route `http_status_code == 0` / `http_outcome == 'timeout'` (or "
            "`onTimeoutStepId`) to a fallback step.",
        ),
        _rule(
            "IVR013",
            "dead-end",
            "error",
            "SPEC 3: a Condition with no branch taken and no default, or a step with no "
            "next step, ends the call with the error tone.",
            "Add `defaultStepId` (or `nextStepId`) leading to a prompt or a transfer.",
        ),
        _rule(
            "IVR014",
            "dangling-step-reference",
            "error",
            "SPEC 3: a reference to a step that does not exist is a dead end at run time.",
            "Point it at an existing step id.",
        ),
        _rule(
            "IVR015",
            "used-before-set",
            "error",
            f"{_G} 3, The Trap: a variable that is not set renders as '' and the request "
            "fails with a 400 or routes to a default path, masking integration health.",
            "Set it earlier on every path (flow `variables`, a step result, or pass it "
            "into the sub-flow).",
        ),
        _rule(
            "IVR016",
            "literal-secret",
            "error",
            f"{_G} 2: credentials come from OAuth clients or a secret manager; a literal "
            "secret in a flow document leaks through version control.",
            "Reference a variable: `{{api_key_variable}}`.",
        ),
        _rule(
            "IVR017",
            "dead-air-budget",
            "error",
            f"{_G} 1, The Trap: a stalled call blocks the flow thread and the caller hears "
            "dead air; the worst-case silence must fit the budget.",
            "Shorten timeouts/retries, or play a prompt between slow steps.",
        ),
        _rule(
            "IVR018",
            "storage-key-never-read",
            "warning",
            f"{_G} 4: a hand-built breaker counter that nothing reads never opens the breaker.",
            "Read the key (DataAPI get + Condition) or use `circuitBreaker`.",
        ),
        _rule(
            "IVR019",
            "endless-loop",
            "error",
            "SPEC 3: a call that never reaches a terminal step is stopped after 500 steps "
            "with the error tone; the caller hears the same prompt (or nothing) until then.",
            "Give the loop a way out: a Condition on a retry counter (DataAPI increment) "
            "or on the caller's input, leading to a transfer or a goodbye.",
        ),
        _rule(
            "IVR020",
            "malformed-url",
            "error",
            "SPEC 4: an HTTP Request step sends http or https to a host; a URL with another "
            "scheme (file://, gopher://), no host, a port outside 1-65535 or a broken IPv6 "
            "literal fails every call the same way, and the caller hears the error branch.",
            "Write the URL as http(s)://HOST[:PORT]/path, with placeholders only where "
            "values change per call.",
        ),
    )
}


def rule_by_id(rule_id: str) -> Rule:
    """The registered rule (KeyError for an unknown id)."""
    return RULES[rule_id]
