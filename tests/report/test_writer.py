"""write_reports: every file in reports/<run-id>/, the step summary, nothing half-written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import harness.report.writer as writer
from harness.errors import ConfigError
from harness.report.writer import write_reports
from harness.scenario.runner import SuiteResult


def test_writes_every_report(
    happy_suite: SuiteResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    paths = write_reports(happy_suite, tmp_path)
    assert paths.directory == tmp_path / happy_suite.run_id
    assert sorted(p.name for p in paths.directory.iterdir()) == [
        "events.jsonl", "junit.xml", "report.html", "results.json",
    ]  # fmt: skip
    assert json.loads(paths.results.read_text(encoding="utf-8"))["run_id"] == happy_suite.run_id
    assert paths.html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert paths.step_summary is None


def test_reports_are_readable_by_others(fake_suite: SuiteResult, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        paths = write_reports(fake_suite, tmp_path)
    finally:
        os.umask(old)
    assert {p.stat().st_mode & 0o777 for p in (paths.results, paths.html)} == {0o644}


def test_events_carry_their_run(happy_suite: SuiteResult, tmp_path: Path) -> None:
    paths = write_reports(happy_suite, tmp_path)
    records = [json.loads(line) for line in paths.events.read_text(encoding="utf-8").splitlines()]
    assert len(records) == sum(len(r.events) for r in happy_suite.runs)
    assert {r["run"] for r in records} == {r.id for r in happy_suite.runs}
    assert {"kind", "t_ms", "call_id", "step_id", "data"} <= set(records[0])


def test_appends_to_github_step_summary(
    fake_suite: SuiteResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    paths = write_reports(fake_suite, tmp_path / "reports")
    text = summary.read_text(encoding="utf-8")
    assert paths.step_summary == summary
    assert text.startswith("earlier step\n## ivr-harness suite: ")
    assert str(paths.html) in text


def test_a_render_error_leaves_nothing(
    fake_suite: SuiteResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(writer, "render_html", broken)
    with pytest.raises(RuntimeError, match="renderer bug"):
        write_reports(fake_suite, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_write_error_leaves_no_partial_file(
    fake_suite: SuiteResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    calls: list[str] = []

    def flaky(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    # One line naming the file (exit 2 at the CLI), never an OSError traceback.
    with pytest.raises(ConfigError, match=r"junit\.xml: cannot write: No space left"):
        write_reports(fake_suite, tmp_path)
    folder = tmp_path / fake_suite.run_id
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["events.jsonl", "results.json"]  # complete files only, no temp leftovers
    json.loads((folder / "results.json").read_text(encoding="utf-8"))


def test_rewriting_replaces_whole_files(fake_suite: SuiteResult, tmp_path: Path) -> None:
    first = write_reports(fake_suite, tmp_path)
    first.results.write_text("garbage", encoding="utf-8")
    second = write_reports(fake_suite, tmp_path)
    assert json.loads(second.results.read_text(encoding="utf-8"))["schema"]
