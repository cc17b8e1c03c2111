"""Per-rule severity and suppression: a config file, and inline ``"lint"`` fields.

Config file (``.ivr-harness.toml``, or JSON with the same shape)::

    [lint]
    dead-air-ms = 8000                 # optional default for --dead-air-ms

    [lint.rules]                       # rule id (or name) -> off | note | warning | error
    IVR002 = "error"
    token-on-caller-path = "off"

    [[lint.ignore]]                    # suppress one rule for one flow (and step)
    rule = "IVR005"
    flow = "customer-integration"
    step = "http-customer-lookup"      # optional: the whole flow when absent
    reason = "the CRM answers in 400 ms"  # optional: a justified suppression (see below)
    expires = 2027-01-31                  # optional, with a reason: the gate fails after it

An entry with a ``reason`` is a *justified suppression*: ``lint`` drops the finding as any
ignore does, and the gate reports it apart as suppressed (SARIF ``suppressions``), and
fails once ``expires`` has passed (``harness.contract.suppressions``).

Precedence, most specific first: the step's ``"lint"`` field, the flow's ``"lint"``
field, an ``ignore`` entry, ``[lint.rules]``, the rule's default severity.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, did_you_mean
from harness.flow.lint.model import RULES, Severity
from harness.flow.model import Flow, Step
from harness.inputs import parse_json, parse_toml, read_text

__all__ = ["Ignore", "LintConfig", "parse_expiry", "resolve_rule"]

_LEVELS = ("off", "note", "warning", "error")
_TOP_KEYS = ("rules", "ignore", "dead-air-ms")
_IGNORE_KEYS = ("rule", "flow", "step", "reason", "expires")


@dataclass(frozen=True, slots=True, kw_only=True)
class Ignore:
    rule_id: str
    flow_id: str
    step_id: str | None = None
    reason: str = ""
    expires: datetime.date | None = None
    pointer: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LintConfig:
    """Severity overrides ('off' suppresses) and targeted suppressions."""

    levels: Mapping[str, str] = field(default_factory=dict)
    ignores: tuple[Ignore, ...] = ()
    dead_air_ms: int | None = None
    path: Path | None = None

    @classmethod
    def load(cls, path: Path) -> LintConfig:
        """Read a TOML or JSON config; ConfigError (file, pointer, hint) on any mistake."""
        text = read_text(path, what="lint config")
        document = (
            parse_json(text, file=path) if path.suffix == ".json" else parse_toml(text, file=path)
        )
        section = document.get("lint", document) if isinstance(document, Mapping) else None
        base = "/lint" if isinstance(document, Mapping) and "lint" in document else ""
        if not isinstance(section, Mapping):
            raise ConfigError(
                "expected a table of lint settings",
                file=path,
                pointer=base,
                hint="see docs/lint-rules.md, 'Configuration'",
            )
        return cls._from(section, path, base)

    @classmethod
    def from_table(cls, section: Any, path: Path, base: str) -> LintConfig:
        """A config from a `[lint]` table already read from `path` (a project config's)."""
        if not isinstance(section, Mapping):
            raise ConfigError("expected a table of lint settings", file=path, pointer=base)
        return cls._from(section, path, base)

    @classmethod
    def _from(cls, section: Mapping[str, Any], path: Path, base: str) -> LintConfig:
        for key in section:
            if key not in _TOP_KEYS:
                hint = did_you_mean(key, _TOP_KEYS) or "allowed: " + ", ".join(_TOP_KEYS)
                raise ConfigError(
                    f"unknown key '{key}'", file=path, pointer=f"{base}/{key}", hint=hint
                )
        rules = _table(section.get("rules", {}), path, f"{base}/rules")
        levels = {
            resolve_rule(k, path, f"{base}/rules/{k}"): _level(v, path, f"{base}/rules/{k}")
            for k, v in rules.items()
        }
        raw = section.get("ignore", [])
        if not isinstance(raw, list):
            raise ConfigError(
                "'ignore' must be a list of tables", file=path, pointer=f"{base}/ignore"
            )
        ignores = tuple(_ignore(item, path, f"{base}/ignore/{i}") for i, item in enumerate(raw))
        dead_air = section.get("dead-air-ms")
        if dead_air is not None and (not isinstance(dead_air, int) or dead_air <= 0):
            raise ConfigError(
                "'dead-air-ms' must be a positive integer", file=path, pointer=f"{base}/dead-air-ms"
            )
        return cls(levels=levels, ignores=ignores, dead_air_ms=dead_air, path=path)

    def without_justified(self) -> LintConfig:
        """This config minus the ignores with a reason (the gate reports those itself)."""
        kept = tuple(i for i in self.ignores if not i.reason)
        return LintConfig(
            levels=self.levels, ignores=kept, dead_air_ms=self.dead_air_ms, path=self.path
        )

    def severity(self, rule_id: str, flow: Flow, step: Step | None) -> Severity | None:
        """The effective severity, or None when the finding is suppressed."""
        level = self._level(rule_id, flow, step)
        return None if level == "off" else level  # type: ignore[return-value]

    def _level(self, rule_id: str, flow: Flow, step: Step | None) -> str:
        if step is not None and rule_id in step.lint:
            return step.lint[rule_id]
        if rule_id in flow.lint:
            return flow.lint[rule_id]
        for ignore in self.ignores:
            if (
                ignore.rule_id == rule_id
                and ignore.flow_id == flow.id
                and (ignore.step_id is None or (step is not None and ignore.step_id == step.id))
            ):
                return "off"
        return self.levels.get(rule_id, RULES[rule_id].severity)


def resolve_rule(name: str, file: Path | None, pointer: str) -> str:
    """A rule id from an id or a name; ConfigError with a did-you-mean otherwise."""
    if name in RULES:
        return name
    by_name = {r.name: r.id for r in RULES.values()}
    if name in by_name:
        return by_name[name]
    hint = did_you_mean(name, [*RULES, *by_name]) or f"rule ids are IVR001..IVR{len(RULES):03d}"
    raise ConfigError(f"unknown lint rule '{name}'", file=file, pointer=pointer, hint=hint)


def _table(value: Any, path: Path, pointer: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError("expected a table", file=path, pointer=pointer)
    return value


def _level(value: Any, path: Path, pointer: str) -> str:
    if value not in _LEVELS:
        raise ConfigError(
            f"unknown level {value!r}",
            file=path,
            pointer=pointer,
            hint=did_you_mean(str(value), _LEVELS) or "one of: " + ", ".join(_LEVELS),
        )
    return str(value)


def _ignore(item: Any, path: Path, pointer: str) -> Ignore:
    table = _table(item, path, pointer)
    for key in table:
        if key not in _IGNORE_KEYS:
            raise ConfigError(
                f"unknown key '{key}'",
                file=path,
                pointer=f"{pointer}/{key}",
                hint=did_you_mean(key, _IGNORE_KEYS) or "allowed: rule, flow, step",
            )
    if "rule" not in table or "flow" not in table:
        raise ConfigError("an ignore entry needs 'rule' and 'flow'", file=path, pointer=pointer)
    rule_id = resolve_rule(str(table["rule"]), path, f"{pointer}/rule")
    step = table.get("step")
    reason = str(table.get("reason") or "").strip()
    expires = parse_expiry(table.get("expires"), path, f"{pointer}/expires")
    if expires is not None and not reason:
        raise ConfigError("an expiry needs a 'reason'", file=path, pointer=f"{pointer}/reason")
    return Ignore(
        rule_id=rule_id,
        flow_id=str(table["flow"]),
        step_id=str(step) if step else None,
        reason=reason,
        expires=expires,
        pointer=pointer,
    )


def parse_expiry(value: Any, path: Path | None, pointer: str) -> datetime.date | None:
    """A TOML date or an ISO ``YYYY-MM-DD`` string; ConfigError otherwise."""
    if value is None or (
        isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)
    ):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(
            f"not a date: {value!r}", file=path, pointer=pointer, hint="write it as 2027-01-31"
        ) from None
