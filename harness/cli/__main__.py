"""`python -m harness.cli` is `ivr-harness`."""

from harness.cli import program

program()
