"""A version of a flow set: a folder (or file), or ``git:REV:PATH`` -- PATH as it was at
revision REV of the git repository the current directory is in.

``git:HEAD~1:contracts/flows``, ``git:main:flows/ivr.json``, ``git:v1.4:.`` (PATH is
relative to the current directory, as on the command line). The files are read with
``git ls-tree`` / ``git show`` into a temporary folder and loaded from there like any
other flow set, so every input check (schema, size, sub-flow references) applies.

REV reaches git as a revision, never as an option: one starting with ``-`` is refused
(``git:--output=FILE:flows`` would have been ``git cat-file --output=FILE``), and every
git command ends its options with ``--end-of-options`` before it.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from harness.errors import ConfigError
from harness.flow.loader import load_flow_set
from harness.flow.model import FlowSet

__all__ = ["GIT_PREFIX", "load_version"]

GIT_PREFIX = "git:"
_GIT_TIMEOUT_S = 30
_FLOW_SUFFIXES = (".json", ".yaml", ".yml")


def load_version(reference: str) -> FlowSet:
    """The flow set at ``reference`` (a path, or ``git:REV:PATH``); ConfigError otherwise."""
    if not reference.startswith(GIT_PREFIX):
        return load_flow_set(Path(reference))
    rev, sep, path = reference[len(GIT_PREFIX) :].partition(":")
    if not sep or not rev:
        raise ConfigError(
            f"'{reference}' is not git:REV:PATH", file=reference, hint="e.g. git:HEAD~1:flows"
        )
    if rev.startswith("-") or any(ord(c) < 0x20 for c in rev):
        raise ConfigError(
            f"'{rev}' is not a git revision", file=reference, hint="e.g. git:HEAD~1:flows"
        )
    with tempfile.TemporaryDirectory(prefix="ivr-harness-") as folder:
        target = _checkout(rev, path or ".", Path(folder), reference)
        return load_flow_set(target)


def _checkout(rev: str, path: str, into: Path, reference: str) -> Path:
    top = Path(_git(["rev-parse", "--show-toplevel"], reference, options=True).strip()).resolve()
    try:
        relative = (Path.cwd() / path).resolve().relative_to(top).as_posix()
    except ValueError:
        raise ConfigError(f"{path} is outside the git repository {top}", file=reference) from None
    prefix = "" if relative == "." else relative
    spec = f"{rev}:{prefix}"
    if _git(["cat-file", "-t", spec], reference).strip() == "blob":
        single = into / Path(prefix).name
        single.write_bytes(_git_bytes(["show", spec], reference))
        return single
    for entry in _git(["ls-tree", "-z", "--name-only", spec], reference).split("\0"):
        if entry.endswith(_FLOW_SUFFIXES) and "/" not in entry:
            inside = f"{prefix}/{entry}" if prefix else entry
            (into / entry).write_bytes(_git_bytes(["show", f"{rev}:{inside}"], reference))
    return into


def _git(args: list[str], reference: str, *, options: bool = False) -> str:
    return _git_bytes(args, reference, options=options).decode("utf-8", "replace")


def _git_bytes(args: list[str], reference: str, *, options: bool = False) -> bytes:
    """``git ARGS``; the last argument (a revision or rev:path) comes after
    ``--end-of-options`` unless ``options`` says every argument is one of ours."""
    command = ["git", *args] if options else ["git", *args[:-1], "--end-of-options", args[-1]]
    try:
        done = subprocess.run(command, capture_output=True, timeout=_GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"cannot run git: {exc}", file=reference) from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ConfigError(
            f"git {args[0]} failed: {reason[-1] if reason else done.returncode}", file=reference
        )
    return done.stdout
