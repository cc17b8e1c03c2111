"""How every report reaches the disk: atomically, and the GitHub step summary appended.

Each file is written to a temporary name in its folder and renamed into place, so a
reader (a CI artifact upload, a person refreshing the HTML) never sees a half-written
file, and a rendering bug leaves the previous version intact.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from harness.errors import ConfigError

__all__ = ["append_step_summary", "atomic_write", "unwritable"]


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename (parents created).

    A path that cannot be written (a folder under /proc, a dangling symlink, a full
    disk) is a ConfigError naming it (exit 2, one line), never an OSError traceback.
    """
    # Not tempfile.mkstemp: its 0600 mode would make reports unreadable to a web server
    # or a CI artifact step running as another user; "x" mode honours the umask.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise unwritable(path, exc) from None
        raise


def unwritable(path: Path, exc: OSError) -> ConfigError:
    """The one-line error for an output path the OS refused."""
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, FileExistsError | NotADirectoryError):
        reason = "a file or a dangling symlink is in the way"
    return ConfigError(f"cannot write: {reason}", file=path, hint="choose another output path")


def append_step_summary(markdown: str) -> Path | None:
    """Append to `$GITHUB_STEP_SUMMARY` when it is set, as GitHub Actions expects."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(markdown if markdown.endswith("\n") else markdown + "\n")
    except OSError as exc:
        raise unwritable(path, exc) from None
    return path
