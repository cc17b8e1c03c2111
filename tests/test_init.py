"""`ivr-harness init`: a starting configuration, workflow and scenario; never an overwrite."""

from __future__ import annotations

from pathlib import Path

from harness.config import load_config
from tests.fixtures.cli_run import assert_one_line_error, run_cli
from tests.fixtures.own_ivr import HOST, write_project


def test_init_writes_a_config_that_loads_a_workflow_and_a_scenario(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "ivr-harness.toml").unlink()
    done = run_cli("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = load_config(tmp_path / "ivr-harness.toml", environ={"ORDERS_API_KEY": "k"})
    assert config.flows == (tmp_path / "flows",)
    assert config.backends[HOST].spec == tmp_path / "openapi" / "orders.yaml"
    assert config.secrets == {"orders_api_key": "k"}
    workflow = (tmp_path / ".github" / "workflows" / "ivr-harness.yml").read_text()
    assert "ivr-harness suite" in workflow and "secrets.ORDERS_API_KEY" in workflow
    assert (tmp_path / "scenarios" / "order-status-happy-path.yaml").is_file()


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    write_project(tmp_path)
    before = (tmp_path / "ivr-harness.toml").read_text()
    done = run_cli("init", cwd=tmp_path)
    assert_one_line_error(done, "ivr-harness.toml: already exists")
    assert (tmp_path / "ivr-harness.toml").read_text() == before
    assert not (tmp_path / ".github").exists()


def test_init_without_flows_is_a_one_line_error(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("init", str(tmp_path), cwd=tmp_path), "no flow files found")
