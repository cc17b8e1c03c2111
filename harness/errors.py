"""Errors raised by the harness.

Two families, never mixed, because they map to different exit codes::

    Exception
    +-- HarnessError                the harness or its input is wrong   -> exit 2
    |   +-- ConfigError             a file a user wrote is malformed (file + JSON pointer + hint)
    |   +-- UnreachableError        a server the harness needs does not answer
    |   +-- UnsafeTargetError       a target outside loopback without explicit permission
    +-- AssertionError
        +-- ContractFailure         the system under test is wrong       -> exit 1

Library code raises these; only the CLI and the pytest plugin turn them into
exit codes or test outcomes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "ConfigError",
    "ContractFailure",
    "HarnessError",
    "UnreachableError",
    "UnsafeTargetError",
    "did_you_mean",
    "exit_code",
]


class HarnessError(Exception):
    """The harness could not run: bad input, a missing server, a usage error."""


class ConfigError(HarnessError):
    """A user's file is malformed.

    The message always names the file and the JSON pointer, and says how to fix it.
    """

    def __init__(
        self, message: str, *, file: str | Path | None = None, pointer: str = "", hint: str = ""
    ) -> None:
        self.file = str(file) if file is not None else None
        self.pointer = pointer
        self.hint = hint
        self.detail = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.file or "<input>"
        if self.pointer:
            where += f"#{self.pointer}"
        text = f"{where}: {self.detail}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class UnreachableError(HarnessError):
    """A server the harness needs (Toxiproxy, a backend) does not answer."""


class UnsafeTargetError(HarnessError):
    """A chaos target outside loopback was named without explicit permission."""


class ContractFailure(AssertionError):
    """The system under test broke a promise: a flow, a backend or a contract is wrong."""

    def __init__(self, title: str, message: str = "") -> None:
        self.title = title
        self.message = message
        super().__init__(f"{title}: {message}" if message else title)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A "did you mean 'x'?" hint, or an empty string when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def exit_code(verdict: str) -> int:
    """The exit code for a verdict: 0 all held, 1 a check failed, 2 the harness could not run.

    `inconclusive` (the harness measured its own overload covering every miss) is 0:
    listed loudly in every report, never a red build.
    """
    return {"pass": 0, "passed": 0, "inconclusive": 0, "fail": 1, "failed": 1}.get(verdict, 2)
