"""Issue 20 #6: a lost shard never gives a green build.

`report merge` of shard 1/2 alone said "verdict pass: 2 runs from 1 shards" (exit 0), and
shard 1/2 of one suite merged with 2/3 of another passed too: results.json recorded
neither K/N nor the suite. Each `suite` run now records its share (K of N) and the
suite's fingerprint, and a merge refuses gaps, duplicates and mixtures (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.cli_run import ROOT, assert_one_line_error, run_cli

HAPPY = str(ROOT / "scenarios" / "happy-path.yaml")
EMPTY = str(ROOT / "scenarios" / "empty-array.yaml")


def _shard(tmp: Path, name: str, spec: str, *scenarios: str) -> Path:
    result = run_cli("suite", *scenarios, "--shard", spec, "--report-dir", str(tmp / name))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (folder,) = (tmp / name).iterdir()
    return folder


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("shards")
    return {
        "a1": _shard(tmp, "a1", "1/2", HAPPY),
        "a2": _shard(tmp, "a2", "2/2", HAPPY),
        "b2": _shard(tmp, "b2", "2/3", HAPPY, EMPTY),
    }


def _merge(tmp: Path, *folders: Path) -> object:
    return run_cli("report", "merge", *map(str, folders), "--report-dir", str(tmp / "m"))


def test_results_json_names_the_share_and_the_suite(shards: dict[str, Path]) -> None:
    a1 = json.loads((shards["a1"] / "results.json").read_text(encoding="utf-8"))["shard"]
    a2 = json.loads((shards["a2"] / "results.json").read_text(encoding="utf-8"))["shard"]
    b2 = json.loads((shards["b2"] / "results.json").read_text(encoding="utf-8"))["shard"]
    assert (a1["index"], a1["count"], a1["suite_runs"]) == (1, 2, 2)
    assert a1["suite"] == a2["suite"] != b2["suite"]
    assert a1["suite"].startswith("sha256:")


def test_one_shard_alone_is_refused(shards: dict[str, Path], tmp_path: Path) -> None:
    result = _merge(tmp_path, shards["a1"])
    assert_one_line_error(result, "shard 2/2 missing")  # type: ignore[arg-type]
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


def test_shards_of_two_suites_are_refused(shards: dict[str, Path], tmp_path: Path) -> None:
    result = _merge(tmp_path, shards["a1"], shards["b2"])
    assert_one_line_error(result, "cannot be merged with shard 1/2")  # type: ignore[arg-type]


def test_a_shard_given_twice_is_refused(shards: dict[str, Path], tmp_path: Path) -> None:
    result = _merge(tmp_path, shards["a1"], shards["a1"])
    assert_one_line_error(result)  # type: ignore[arg-type]


def test_every_shard_once_merges_and_a_reused_run_id_is_refused(
    shards: dict[str, Path], tmp_path: Path
) -> None:
    args = ("report", "merge", str(shards["a1"]), str(shards["a2"]), "--report-dir")
    first = run_cli(*args, str(tmp_path), "--run-id", "all")
    assert first.returncode == 0, first.stderr
    merged = json.loads((tmp_path / "all" / "results.json").read_text(encoding="utf-8"))
    assert merged["complete"] and merged["counts"]["runs"] == 2
    assert merged["shard"]["count"] == 1 and merged["shard"]["suite_runs"] == 2
    again = run_cli(*args, str(tmp_path), "--run-id", "all")
    assert_one_line_error(again, "already holds the reports of an earlier run")


def test_results_of_an_older_harness_without_a_shard_are_refused(
    shards: dict[str, Path], tmp_path: Path
) -> None:
    old = tmp_path / "old"
    old.mkdir()
    document = json.loads((shards["a1"] / "results.json").read_text(encoding="utf-8"))
    document.pop("shard")
    (old / "results.json").write_text(json.dumps(document), encoding="utf-8")
    (old / "events.jsonl").write_text("", encoding="utf-8")
    result = _merge(tmp_path, old, shards["a2"])
    assert_one_line_error(result, "is not a shard of a suite")  # type: ignore[arg-type]
