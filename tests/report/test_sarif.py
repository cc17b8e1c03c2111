from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.flow.lint import lint_flow_set
from harness.flow.lint.model import Finding
from harness.flow.lint.positions import SourceMap
from harness.flow.loader import load_flow_set
from harness.report.sarif import to_sarif

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / ".." / "shared" / "corpus" / "schemas" / "sarif-schema-2.1.0.json"


def _seed_sarif() -> tuple[list[Finding], dict[str, Any]]:
    findings = lint_flow_set(load_flow_set(ROOT / "contracts" / "flows" / "seed"))
    return findings, to_sarif(findings, ROOT)


def test_sarif_has_a_result_per_finding_pointing_at_its_file_and_rule() -> None:
    # Needs no schema: runs in every checkout.
    findings, log = _seed_sarif()
    results = log["runs"][0]["results"]
    assert len(results) == len(findings) > 0
    assert [r["ruleId"] for r in results] == [f.rule_id for f in findings]
    first = results[0]["locations"][0]
    assert first["physicalLocation"]["artifactLocation"]["uri"].startswith("contracts/flows/seed/")
    rule_ids = [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]]
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in results)


def test_sarif_validates_against_the_2_1_0_schema() -> None:
    if not SCHEMA.is_file():
        pytest.skip(f"SARIF schema not available at {SCHEMA}")
    _, log = _seed_sarif()
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(log)


def test_every_finding_points_where_its_value_starts() -> None:
    findings = lint_flow_set(load_flow_set(ROOT / "contracts" / "flows" / "seed"))
    for finding in findings:
        assert finding.file is not None
        text = finding.file.read_text(encoding="utf-8")
        source = SourceMap(text)
        offset = source.offset(finding.pointer)
        assert offset is not None, finding.pointer
        line_start = sum(len(line) for line in text.splitlines(keepends=True)[: finding.line - 1])
        assert line_start + finding.column - 1 == offset
        # the value there decodes to what the pointer names in the document
        document = json.loads(text)
        value = document
        for token in filter(None, finding.pointer.split("/")):
            key = token.replace("~1", "/").replace("~0", "~")
            value = value[int(key)] if isinstance(value, list) else value[key]
        decoded, _ = json.JSONDecoder().raw_decode(text, offset)
        assert decoded == value
