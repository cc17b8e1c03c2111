"""Static lint of flow sets: rules with stable ids, each encoding one of the guide's traps.

Public API: :func:`lint_flow_set`, :class:`Finding`, :data:`RULES`, :class:`Rule`,
:class:`LintConfig`, and the formatters :func:`format_text` and :func:`format_json`
(SARIF is written by ``harness.report.sarif``). Rules are documented in ``docs/lint-rules.md``.
"""

from harness.flow.lint.config import LintConfig
from harness.flow.lint.engine import lint_flow_set
from harness.flow.lint.formats import format_json, format_text
from harness.flow.lint.model import RULES, Finding, Rule, Severity
from harness.flow.lint.positions import Position, SourceMap

__all__ = [
    "RULES",
    "Finding",
    "LintConfig",
    "Position",
    "Rule",
    "Severity",
    "SourceMap",
    "format_json",
    "format_text",
    "lint_flow_set",
]
