"""Code mutants for judging the test suite itself: a checkout's copy, one edit, its tests.

A mutant is one small edit of the harness's code; the tests kill it when some test
that runs the edited code fails. Each mutant runs in its own copy of the checkout
(the tracked files, and untracked ones not ignored), in a fresh interpreter: the copy
is first on `sys.path`, so the edited module is the one imported, the copy's
subprocesses included. No `../shared` lies beside the copy, so tests that need the
third-party corpus skip there, as they do in a bare checkout.

Used by `bench/bench_test_mutation.py` (the score over many mutants) and by
`tests/test_named_mutants.py` (mutations that once survived, each turning its test red).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class Edit:
    """Replace the one occurrence of `old` in `file` (relative to the checkout) by `new`."""

    file: str
    old: str
    new: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    killed: bool  # a test failed (or the run errored, timed out)
    returncode: int
    seconds: float
    tail: str  # the end of pytest's output, for a report


def tracked_files(root: Path = ROOT) -> list[str]:
    """The checkout's files as git lists them (tracked, and untracked not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    names = sorted({n.decode() for n in listed.split(b"\0") if n})
    return [n for n in names if os.path.lexists(root / n)]


def copy_checkout(dest: Path, root: Path = ROOT) -> Path:
    """Copy the checkout's files into `dest`, symbolic links kept as links."""
    for name in tracked_files(root):
        source, target = root / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return dest


def apply(checkout: Path, edit: Edit) -> None:
    """Apply `edit` in `checkout`; the text to replace must occur exactly once."""
    path = checkout / edit.file
    text = path.read_text(encoding="utf-8")
    count = text.count(edit.old)
    if count != 1:
        raise ValueError(f"{edit.file}: {edit.old!r} occurs {count} times, not once")
    path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")
    shutil.rmtree(path.parent / "__pycache__", ignore_errors=True)


def run_tests(checkout: Path, tests: list[str], *, timeout: float = 600) -> Outcome:
    """Run `tests` (pytest node ids or folders) in `checkout`, stopping at the first failure."""
    import time

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=checkout, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else ""
        return Outcome(killed=True, returncode=-1, seconds=timeout, tail=out[-2000:])
    seconds = time.monotonic() - started
    # 0: every test passed (the mutant survived); 5: no test ran, which proves nothing.
    if done.returncode == 5:
        raise RuntimeError(f"no tests ran: {tests}")
    tail = (done.stdout + done.stderr)[-2000:]
    return Outcome(
        killed=done.returncode != 0, returncode=done.returncode, seconds=seconds, tail=tail
    )
