"""Text and JSON renderings of findings.

JSON shape (stable)::

    {"version": 1,
     "summary": {"error": N, "warning": N, "note": N, "total": N},
     "findings": [{"rule_id", "rule_name", "severity", "message", "flow_id", "step_id",
                   "file", "pointer", "line", "column", "rationale"}, ...]}
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from harness.flow.lint.model import SEVERITIES, Finding

__all__ = ["display_path", "format_json", "format_text", "summary"]


def summary(findings: list[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {**{s: counts.get(s, 0) for s in SEVERITIES}, "total": len(findings)}


def display_path(file: Path | None, base: Path | None) -> str:
    """``file`` relative to ``base`` when it lies under it, with forward slashes."""
    if file is None:
        return "<flow>"
    if base is not None:
        try:
            return Path(os.path.relpath(file.resolve(), base.resolve())).as_posix()
        except ValueError:  # another drive on Windows
            pass
    return file.as_posix()


def format_text(findings: list[Finding], base: Path | None = None) -> str:
    """One line per finding, then a summary line."""
    lines = [
        f"{display_path(f.file, base)}:{f.line}:{f.column}: {f.severity} {f.rule_id} "
        f"{f.rule.name}: {f.message} [{f.flow_id}/{f.step_id or '-'}]"
        for f in findings
    ]
    counts = summary(findings)
    lines.append(
        f"{counts['total']} finding(s): {counts['error']} error(s), "
        f"{counts['warning']} warning(s), {counts['note']} note(s)"
    )
    return "\n".join(lines)


def format_json(findings: list[Finding]) -> str:
    document: dict[str, Any] = {
        "version": 1,
        "summary": summary(findings),
        "findings": [f.to_json() for f in findings],
    }
    return json.dumps(document, indent=2)
