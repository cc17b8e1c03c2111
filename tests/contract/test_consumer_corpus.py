"""Real-world specs (APIs-guru copies in ../shared/corpus/openapi) load and match, no crash.

The corpus is read in place and never copied into the project; the test skips without it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.contract.consumer import check_consumer
from harness.contract.matching import NamedSpec
from harness.contract.openapi import Operation, Spec, load_spec
from harness.flow.loader import load_flow_set

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "openapi"
SPECS = sorted(p for p in CORPUS.glob("*") if p.suffix in {".json", ".yaml", ".yml"})


def _placeholder(match: re.Match[str]) -> str:
    name = re.sub(r"\W", "_", match.group(1))
    return f"{{{{encodeUriComponent(v_{name})}}}}"


def _flow(spec: Spec, operations: list[Operation]) -> dict[str, object]:
    server = next((s.url.rstrip("/") for s in spec.servers if s.host), "https://api.example.com")
    steps: list[dict[str, object]] = []
    for index, op in enumerate(operations):
        path = re.sub(r"\{([^}]+)\}", _placeholder, op.path)
        steps.append(
            {
                "id": f"call-{index}",
                "type": "HTTPRequest",
                "configuration": {
                    "url": server + path,
                    "method": op.method.upper(),
                    "timeout": 3000,
                    "responseMapping": {"picked": "$.id"},
                },
                "nextStepId": f"call-{index + 1}" if index + 1 < len(operations) else "done",
            }
        )
    steps.append({"id": "done", "type": "Return", "configuration": {}})
    return {"id": "corpus", "name": "corpus", "flowType": "SubFlow", "version": 1, "steps": steps}


@pytest.mark.skipif(not SPECS, reason=f"no OpenAPI corpus at {CORPUS}")
@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_corpus_spec_loads_and_its_operations_match(
    path: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    spec = load_spec(path)
    operations = [op for op in spec.operations if "{{" not in op.path][:4]
    assert operations, f"{path.name}: no operations read"
    (tmp_path / "flow.json").write_text(json.dumps(_flow(spec, operations)), encoding="utf-8")
    flows = load_flow_set(tmp_path)
    report = check_consumer(flows, [NamedSpec(name="", spec=spec)], max_examples=10)
    assert report.steps_checked == len(operations)
    unmatched = [f.line() for f in report.findings if f.check == "operation-match"]
    assert unmatched == []
    notes = [f.line() for f in report.findings if f.severity == "note"]
    # What the checker could not understand stays visible in the test report.
    request.node.user_properties.append(("unsupported", notes))
    errors = [f.line() for f in report.findings if f.severity == "error"]
    request.node.user_properties.append(("errors", errors))
