"""The project configuration: found upward, validated with file + pointer, secrets from env."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import find_config, load_config
from harness.errors import ConfigError

GOOD = """
flows = ["flows"]
dead-air-ms = 6000

[backends."api.orders.example.com"]
spec = "openapi/orders.yaml"

[secrets]
orders_api_key = "${ORDERS_KEY}"

[lint.rules]
IVR002 = "error"
"""


def test_found_from_a_subfolder_and_resolved(tmp_path: Path) -> None:
    (tmp_path / "ivr-harness.toml").write_text(GOOD)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    path = find_config(deep)
    assert path == (tmp_path / "ivr-harness.toml").resolve()
    config = load_config(path, environ={"ORDERS_KEY": "k-123"})
    assert config.flows == (path.parent / "flows",)
    assert config.dead_air_ms == 6000
    assert config.backends["api.orders.example.com"].spec == path.parent / "openapi/orders.yaml"
    assert config.secrets == {"orders_api_key": "k-123"}


def test_pyproject_tool_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.ivr-harness]\nflows = ["f"]\n')
    config = load_config(find_config(tmp_path) or Path("missing"))
    assert config.pointer == "/tool/ivr-harness"
    assert config.flows == (tmp_path.resolve() / "f",)


def test_a_pyproject_without_our_table_is_not_a_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(tmp_path) in (None, *[p / "ivr-harness.toml" for p in tmp_path.parents])


@pytest.mark.parametrize(
    ("text", "pointer", "words"),
    [
        ('flow = ["x"]', "/flow", "did you mean 'flows'"),
        ('[backends."api.x.com"]\nspecc = "a.yaml"', "/backends/api.x.com/specc", "spec"),
        ('[secrets]\nkey = "literal-value"', "/secrets/key", "${ENV_VAR}"),
        ('[secrets]\nkey = "${IVR_TEST_UNSET_VAR}"', "/secrets/key", "IVR_TEST_UNSET_VAR"),
        ("dead-air-ms = 0", "/dead-air-ms", "minimum"),
    ],
)
def test_bad_config_names_file_pointer_and_fix(
    tmp_path: Path, text: str, pointer: str, words: str
) -> None:
    path = tmp_path / "ivr-harness.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert info.value.file == str(path)
    assert info.value.pointer == pointer
    assert words in str(info.value)


def test_pyproject_errors_point_inside_the_tool_table(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.ivr-harness]\nflowz = ["x"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.pointer == "/tool/ivr-harness/flowz"


def test_a_bad_config_is_exit_2_in_one_line_from_any_command(tmp_path: Path) -> None:
    from tests.fixtures.cli_run import assert_one_line_error, run_cli

    text = 'flows = ["f"]\n[backends."api.x.com"]\nspex = "a"\n'
    (tmp_path / "ivr-harness.toml").write_text(text)
    for command in (["suite"], ["lint"], ["budget"]):
        done = run_cli(*command, cwd=tmp_path)
        assert_one_line_error(done, "ivr-harness.toml#/backends/api.x.com/spex")
