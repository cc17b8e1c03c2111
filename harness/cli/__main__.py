"""`python -m harness.cli` is `ivr-harness`."""

from harness.cli import main

main()
