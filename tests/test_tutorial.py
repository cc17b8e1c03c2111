"""docs/your-own-ivr.md works as written: its files, then its `$` commands, in order."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.fixtures.cli_run import ROOT

DOC = ROOT / "docs" / "your-own-ivr.md"
_BLOCK = re.compile(r"(?:<!-- file: (?P<file>\S+) -->\n)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)


def steps() -> list[tuple[str, str, str]]:
    """("file", path, text) and ("run", command, "") in the order the page gives them."""
    out: list[tuple[str, str, str]] = []
    for match in _BLOCK.finditer(DOC.read_text(encoding="utf-8")):
        if match["file"]:
            out.append(("file", match["file"], match["body"]))
        elif match["lang"] == "console":
            lines = match["body"].splitlines()
            out += [("run", line[2:], "") for line in lines if line.startswith("$ ")]
    return out


def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
    ran = []
    for kind, what, text in steps():
        if kind == "file":
            (tmp_path / what).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / what).write_text(text, encoding="utf-8")
            continue
        words = shlex.split(what, comments=True)
        expected = int(what.rsplit("# exit", 1)[1]) if "# exit" in what else 0
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
            continue
        assert words[0] == "ivr-harness", what
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", *words[1:]],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == expected, (what, done.stdout[-3000:], done.stderr)
        assert "Traceback" not in done.stderr
        ran.append(words[1])
    assert ran == [
        "init",
        "lint",
        "budget",
        "suite",
        "suite",
        "suite",
        "gate",
        "contract",
        "diff",
        "gate",
    ]
