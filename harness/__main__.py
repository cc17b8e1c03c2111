"""`python -m harness` is `ivr-harness`."""

from harness.cli import program

program()
