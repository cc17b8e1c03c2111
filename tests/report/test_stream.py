"""Reports stream as runs finish; unusable report locations stop a suite before it starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.report.stream import ReportStream, check_report_dir
from harness.scenario.runner import SuiteResult

ROOT = Path(__file__).resolve().parents[2]


def test_each_finished_run_is_on_disk_before_the_suite_ends(
    tmp_path: Path, fake_suite: SuiteResult
) -> None:
    stream = ReportStream(report_dir=tmp_path, run_id="r1", toxiproxy="embedded")
    results = tmp_path / "r1" / "results.json"
    assert json.loads(results.read_text())["runs"] == []
    first, second = fake_suite.runs[:2]
    stream.on_run(first)
    document = json.loads(results.read_text())
    assert [r["id"] for r in document["runs"]] == [first.id]
    assert (document["complete"], document["incomplete_reason"]) == (False, "running")
    stream.on_run(second)
    lines = (tmp_path / "r1" / "events.jsonl").read_text().splitlines()
    assert {json.loads(line)["run"] for line in lines} == {first.id, second.id}
    assert len(lines) == len(first.events) + len(second.events)
    stream.abort("interrupted by SIGTERM")
    document = json.loads(results.read_text())
    assert document["incomplete_reason"] == "interrupted by SIGTERM"
    assert document["verdict"] == "error" and len(document["runs"]) == 2
    assert (tmp_path / "r1" / "report.html").is_file() and (tmp_path / "r1" / "junit.xml").is_file()


def test_a_finished_suite_is_complete(tmp_path: Path, fake_suite: SuiteResult) -> None:
    stream = ReportStream(report_dir=tmp_path, run_id=fake_suite.run_id, toxiproxy="embedded")
    paths = stream.finish(fake_suite)
    document = json.loads(paths.results.read_text())
    assert (document["complete"], document["incomplete_reason"]) == (True, "")
    assert len(document["runs"]) == len(fake_suite.runs)


def test_report_dir_that_is_a_file_or_under_one(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_report_dir(file, "r1")
    with pytest.raises(ConfigError, match="under a file"):
        check_report_dir(file / "below", "r1")


def test_step_summary_that_is_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))
    with pytest.raises(ConfigError, match="GITHUB_STEP_SUMMARY"):
        check_report_dir(tmp_path / "reports", "r1")


def test_suite_with_an_unusable_report_dir_exits_2_before_running(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("not a folder")
    scenario = ROOT / "scenarios" / "happy-path.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "suite", str(scenario), "--report-dir", str(blocker)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert str(blocker) in done.stderr and "Traceback" not in done.stderr
