"""`suite --shard K/N` on each shard, then `report merge`, equals one unsharded run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.fixtures.cli_run import ROOT, assert_one_line_error, run_cli

NAMES = ("happy-path", "503-503-200", "empty-array")


def _suite(report_dir: Path, *extra: str) -> dict[str, str]:
    scenarios = [str(ROOT / "scenarios" / f"{n}.yaml") for n in NAMES]
    done = run_cli("suite", *scenarios, "--report-dir", str(report_dir), *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    (folder,) = report_dir.iterdir()
    return _verdicts(folder)


def _verdicts(folder: Path) -> dict[str, str]:
    runs = json.loads((folder / "results.json").read_text())["runs"]
    return {r["id"]: r["verdict"] for r in runs}


def test_shards_merged_equal_one_unsharded_run(tmp_path: Path) -> None:
    whole = _suite(tmp_path / "whole")
    first = _suite(tmp_path / "s1", "--shard", "1/2")
    second = _suite(tmp_path / "s2", "--shard", "2/2")
    assert first and second and not set(first) & set(second)
    shards = [next((tmp_path / s).iterdir()) for s in ("s1", "s2")]
    merged = run_cli(
        "report", "merge", *map(str, shards), "--report-dir", str(tmp_path / "m"), "--run-id", "all"
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    folder = tmp_path / "m" / "all"
    assert _verdicts(folder) == whole == {**first, **second}
    results = json.loads((folder / "results.json").read_text())
    assert results["complete"] and results["counts"]["runs"] == len(whole) == 6
    cases = {c.get("name") for c in ET.parse(folder / "junit.xml").getroot().iter("testcase")}
    assert cases == set(whole)
    events = (folder / "events.jsonl").read_text().splitlines()
    assert {json.loads(line)["run"] for line in events} == set(whole)
    assert all(run_id in (folder / "report.html").read_text() for run_id in whole)


def test_bad_shard_specs_and_a_folder_without_results(tmp_path: Path) -> None:
    happy = str(ROOT / "scenarios" / "happy-path.yaml")
    for spec in ("0/2", "3/2", "x/y", "2"):
        assert_one_line_error(run_cli("suite", happy, "--shard", spec), "--shard")
    assert_one_line_error(run_cli("suite", happy, "--shard", "3/3"), "no runs")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(run_cli("report", "merge", str(empty)), "results.json")
