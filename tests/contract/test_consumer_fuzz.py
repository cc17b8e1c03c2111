"""Random and truncated specs never get past the CLI as a traceback.

Unparseable input is exit 2 with one line naming the file (and line/pointer); anything that
parses is a verdict (0 or 1) with the gaps reported as 'unsupported' notes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import FLOWS, OPENAPI, invoke

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "openapi"
TEXTS = [p.read_text(encoding="utf-8") for p in sorted(OPENAPI.glob("*.yaml"))] + [
    p.read_text(encoding="utf-8")
    for p in sorted(CORPUS.glob("*"))
    if p.suffix in {".json", ".yaml", ".yml"}
]
FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.nested_given,
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["openapi", "paths", "servers", "$ref", "get", "responses", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


def _check(spec: Path) -> None:
    run = invoke(
        "contract",
        FLOWS / "hardened",
        "--spec",
        f"api.crm-provider.com={spec}",
        "--max-examples",
        "3",
    )
    assert isinstance(run.exception, SystemExit | None), run.exception
    assert run.exit_code in (0, 1, 2), run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    if run.exit_code == 2:
        assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1, run.stderr
        assert str(spec) in run.stderr


@FUZZ
@given(index=st.integers(0, len(TEXTS) - 1), cut=st.floats(0, 1))
def test_truncated_specs_fail_cleanly(index: int, cut: float, tmp_path: Path) -> None:
    text = TEXTS[index]
    spec = tmp_path / "truncated.yaml"
    spec.write_text(text[: int(len(text) * cut)], encoding="utf-8")
    _check(spec)


@FUZZ
@given(value=JSON_VALUES, as_yaml=st.booleans())
def test_random_documents_fail_cleanly(value: object, as_yaml: bool, tmp_path: Path) -> None:
    spec = tmp_path / "random.yaml"
    document = {"openapi": "3.0.0", "paths": value} if isinstance(value, dict) else value
    text = yaml.safe_dump(document) if as_yaml else json.dumps(document)
    spec.write_text(text, encoding="utf-8")
    _check(spec)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00\x01",
        "openapi: 3.1.0\npaths: {/a: {get: {responses: {'200': {$ref: '#'}}}}}\n",
        "openapi: 3.0.0\ncomponents: {schemas: {A: {$ref: '#/components/schemas/A'}}}\n"
        "paths: {/v2/accounts: {get: {responses: {'200': {content: {application/json: "
        "{schema: {$ref: '#/components/schemas/A'}}}}}}}}\n",
    ],
)
def test_pathological_specs(text: str, tmp_path: Path) -> None:
    spec = tmp_path / "odd.yaml"
    spec.write_text(text, encoding="utf-8")
    _check(spec)
