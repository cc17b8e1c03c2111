"""SARIF 2.1.0 output of lint findings: one run, the rule registry as ``tool.driver.rules``.

Findings accepted with a reason are results too, each with a ``suppressions`` array
(``kind: external``: the reason lives in a lint config or baseline file), so code-scanning
tools show them as suppressed rather than losing them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.flow.lint.formats import display_path
from harness.flow.lint.model import RULES, Finding

__all__ = ["SARIF_SCHEMA", "SARIF_VERSION", "format_sarif", "to_sarif"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def to_sarif(
    findings: list[Finding],
    base: Path | None = None,
    suppressed: Sequence[tuple[Finding, str]] = (),
) -> dict[str, Any]:
    """A SARIF log; artifact URIs are relative to ``base`` (``%SRCROOT%``).

    ``suppressed`` holds (finding, justification) pairs, written as suppressed results.
    """
    ids = list(RULES)
    results = [_result(f, ids.index(f.rule_id), base) for f in findings]
    for finding, reason in suppressed:
        result = _result(finding, ids.index(finding.rule_id), base)
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": reason}
        ]
        results.append(result)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "ivr-harness-lint",
                "informationUri": "https://ivr-harness.dev/docs/lint-rules",
                "rules": [_rule(rule_id) for rule_id in ids],
            }
        },
        "results": results,
    }
    if base is not None:
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": base.resolve().as_uri() + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def format_sarif(
    findings: list[Finding],
    base: Path | None = None,
    suppressed: Sequence[tuple[Finding, str]] = (),
) -> str:
    """:func:`to_sarif` as indented JSON text."""
    return json.dumps(to_sarif(findings, base, suppressed), indent=2)


def _rule(rule_id: str) -> dict[str, Any]:
    rule = RULES[rule_id]
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.name.replace("-", " ")},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": rule.help},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
    }


def _result(finding: Finding, index: int, base: Path | None) -> dict[str, Any]:
    location: dict[str, Any] = {"uri": display_path(finding.file, base)}
    if base is not None:
        location["uriBaseId"] = "%SRCROOT%"
    logical = finding.flow_id + (f"/{finding.step_id}" if finding.step_id else "")
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": index,
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": location,
                    "region": {"startLine": finding.line, "startColumn": finding.column},
                },
                "logicalLocations": [
                    {
                        "name": finding.step_id or finding.flow_id,
                        "fullyQualifiedName": logical,
                        "kind": "object",
                    }
                ],
            }
        ],
        "properties": {
            "pointer": finding.pointer,
            "flowId": finding.flow_id,
            "stepId": finding.step_id,
        },
    }
