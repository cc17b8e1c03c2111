"""Suppressions with a reason: findings the team has looked at and accepted, for now.

Two sources, one meaning:

* the lint config's ``[[lint.ignore]]`` entries that carry a ``reason`` (lint rules only);
* a **baseline file** (JSON, written by ``ivr-harness gate --write-baseline FILE``)::

    {"version": 1,
     "suppressions": [
       {"rule": "IVR005" | "request-schema" | ..., "flow": "order-status",
        "step": "http-order-status", "reason": "why this is fine", "expires": "2027-01-31"}]}

``rule`` is a lint rule id or name, or a consumer check name (``request-schema``,
``injection``, ``response-mapping``, ``status-routing``, ``operation-match``); ``step`` is
optional (the whole flow); ``reason`` is required; ``expires`` is optional. The gate keeps
a suppressed finding out of its verdict and reports it apart; an expired suppression
suppresses nothing and fails the gate. :func:`load_suppressions` is the entry point a
project configuration calls.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.contract.model import CHECKS
from harness.errors import ConfigError, did_you_mean
from harness.flow.lint.config import LintConfig, parse_expiry, resolve_rule
from harness.inputs import parse_json, read_text

__all__ = [
    "Suppressed",
    "Suppression",
    "apply_suppressions",
    "baseline_document",
    "load_suppressions",
]

_KEYS = ("rule", "flow", "step", "reason", "expires")


@dataclass(frozen=True, slots=True, kw_only=True)
class Suppression:
    """Accept findings of ``rule`` at ``flow`` (and ``step``) because of ``reason``."""

    rule: str
    flow: str
    step: str | None
    reason: str
    expires: datetime.date | None = None
    source: str = ""  # file#pointer, so a report says where to edit

    def expired(self, today: datetime.date) -> bool:
        return self.expires is not None and today > self.expires

    def matches(self, rule: str, flow: str, step: str) -> bool:
        return self.rule == rule and self.flow == flow and self.step in (None, step)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "flow": self.flow,
            "step": self.step,
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Suppressed:
    """A finding kept out of the verdict, with the suppression that did it."""

    finding: Any
    by: Suppression


def load_suppressions(
    baseline: Path | None = None, lint_config: LintConfig | None = None
) -> tuple[Suppression, ...]:
    """Justified suppressions from a baseline file and a lint config (either optional)."""
    found: list[Suppression] = []
    if lint_config is not None:
        where = str(lint_config.path or "lint config")
        found += [
            Suppression(
                rule=i.rule_id,
                flow=i.flow_id,
                step=i.step_id,
                reason=i.reason,
                expires=i.expires,
                source=f"{where}#{i.pointer}",
            )
            for i in lint_config.ignores
            if i.reason
        ]
    if baseline is not None:
        found += _read_baseline(baseline)
    return tuple(found)


def _read_baseline(path: Path) -> list[Suppression]:
    document = parse_json(read_text(path, what="baseline"), file=path)
    if not isinstance(document, dict) or not isinstance(document.get("suppressions"), list):
        raise ConfigError(
            "expected an object with a 'suppressions' list",
            file=path,
            pointer="",
            hint="write one with: ivr-harness gate ... --write-baseline FILE",
        )
    return [
        _entry(item, path, f"/suppressions/{i}") for i, item in enumerate(document["suppressions"])
    ]


def _entry(item: Any, path: Path, pointer: str) -> Suppression:
    if not isinstance(item, dict):
        raise ConfigError("expected an object", file=path, pointer=pointer)
    for key in item:
        if key not in _KEYS:
            hint = did_you_mean(key, _KEYS) or "allowed: " + ", ".join(_KEYS)
            raise ConfigError(
                f"unknown key '{key}'", file=path, pointer=f"{pointer}/{key}", hint=hint
            )
    for key in ("rule", "flow", "reason"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise ConfigError(
                f"'{key}' is required (a non-empty string)",
                file=path,
                pointer=f"{pointer}/{key}",
                hint="every suppression says why" if key == "reason" else "",
            )
    rule = str(item["rule"])
    if rule not in CHECKS:
        rule = resolve_rule(rule, path, f"{pointer}/rule")
    step = item.get("step")
    return Suppression(
        rule=rule,
        flow=str(item["flow"]),
        step=str(step) if step else None,
        reason=str(item["reason"]).strip(),
        expires=parse_expiry(item.get("expires"), path, f"{pointer}/expires"),
        source=f"{path}#{pointer}",
    )


def apply_suppressions(
    findings: Iterable[Any], suppressions: Sequence[Suppression], today: datetime.date
) -> tuple[list[Any], list[Suppressed]]:
    """(kept, suppressed). A finding is a lint ``Finding`` or a ``ContractFinding``; notes
    are never suppressed (they fail nothing), and an expired suppression suppresses nothing."""
    live = [s for s in suppressions if not s.expired(today)]
    kept: list[Any] = []
    suppressed: list[Suppressed] = []
    for finding in findings:
        rule = _rule_of(finding)
        by = next((s for s in live if s.matches(rule, finding.flow_id, finding.step_id)), None)
        if by is None or finding.severity == "note":
            kept.append(finding)
        else:
            suppressed.append(Suppressed(finding=finding, by=by))
    return kept, suppressed


def _rule_of(finding: Any) -> str:
    return str(getattr(finding, "rule_id", None) or getattr(finding, "check", ""))


def baseline_document(findings: Iterable[Any], *, written: datetime.date) -> str:
    """A baseline accepting every error and warning in ``findings``, one entry per rule
    and step; the reason says it was baselined, for a human to replace with the real one."""
    entries: dict[tuple[str, str, str], dict[str, Any]] = {}
    for finding in findings:
        if finding.severity == "note":
            continue
        rule = _rule_of(finding)
        key = (rule, finding.flow_id, finding.step_id)
        entries.setdefault(
            key,
            {
                "rule": rule,
                "flow": finding.flow_id,
                "step": finding.step_id or None,
                "reason": f"baselined on {written.isoformat()}: {finding.message[:160]}",
            },
        )
    document = {"version": 1, "suppressions": [entries[k] for k in sorted(entries)]}
    return json.dumps(document, indent=2) + "\n"
