"""Run every rule over a flow set and turn raw issues into positioned findings."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from harness.flow.lint import (
    dataflow,
    rules_budget,
    rules_graph,
    rules_http,
    rules_loops,
    rules_routing,
    rules_templates,
)
from harness.flow.lint.config import LintConfig, resolve_rule
from harness.flow.lint.context import Issue, LintContext
from harness.flow.lint.model import RULES, Finding
from harness.flow.lint.positions import SourceMap
from harness.flow.model import Flow, FlowSet
from harness.flow.profile import CXONE, PlatformProfile

__all__ = ["CHECKS", "lint_flow_set"]

Check = Callable[[LintContext], Iterator[Issue]]

CHECKS: tuple[Check, ...] = (
    rules_http.check_missing_timeout,
    rules_http.check_slow_timeout,
    rules_http.check_retry_4xx,
    rules_http.check_unsafe_retry,
    rules_http.check_token_path,
    rules_templates.check_unguarded_index,
    rules_templates.check_unencoded_url,
    rules_templates.check_injection,
    rules_templates.check_mapping_jsonpath,
    rules_templates.check_unformatted_validation,
    rules_routing.check_error_routing,
    rules_routing.check_timeout_fallback,
    rules_graph.check_dead_ends,
    rules_graph.check_dangling,
    dataflow.check_used_before_set,
    rules_http.check_literal_secrets,
    rules_budget.check_dead_air,
    rules_graph.check_storage_keys,
    rules_loops.check_endless_loops,
    rules_http.check_malformed_url,
)


def lint_flow_set(
    flows: FlowSet,
    *,
    config: LintConfig | None = None,
    profile: PlatformProfile = CXONE,
    dead_air_budget_ms: int = 8000,
) -> list[Finding]:
    """Every finding of every rule, with severities and suppressions applied, in file order.

    Raises ConfigError when an inline ``"lint"`` field names an unknown rule.
    """
    config = config or LintConfig()
    _check_inline_ids(flows)
    ctx = LintContext.build(flows, profile, dead_air_budget_ms)
    maps: dict[str, SourceMap] = {}
    findings: list[Finding] = []
    seen: set[tuple[str, str, str, str]] = set()
    for check in CHECKS:
        for issue in check(ctx):
            key = (issue.rule_id, issue.flow.id, issue.pointer, issue.message)
            if key in seen:  # one finding per place and message ('{{a}}' x 5000 is one)
                continue
            seen.add(key)
            severity = config.severity(issue.rule_id, issue.flow, issue.step)
            if severity is not None:
                source = maps.get(issue.flow.id)
                if source is None:  # built once per flow: setdefault would build it every time
                    source = maps[issue.flow.id] = SourceMap(issue.flow.source)
                findings.append(_finding(issue, severity, source))
    return sorted(findings, key=lambda f: (str(f.file), f.line, f.column, f.rule_id, f.message))


def _finding(issue: Issue, severity: str, source: SourceMap) -> Finding:
    position = source.position(issue.pointer)
    return Finding(
        rule_id=issue.rule_id,
        severity=severity,  # type: ignore[arg-type]
        message=issue.message,
        flow_id=issue.flow.id,
        step_id=issue.step.id if issue.step else "",
        file=issue.flow.path,
        pointer=issue.pointer,
        line=position.line,
        column=position.column,
        rationale=RULES[issue.rule_id].rationale,
    )


def _check_inline_ids(flows: FlowSet) -> None:
    for flow in flows:
        _check_ids(flow, flow.lint, "/lint")
        for step in flow.steps:
            _check_ids(flow, step.lint, f"{step.pointer}/lint")


def _check_ids(flow: Flow, settings: object, pointer: str) -> None:
    for name in settings if isinstance(settings, dict) else ():
        resolve_rule(str(name), flow.path, f"{pointer}/{name}")
