"""`python -m harness` is `ivr-harness`."""

from harness.cli import main

main()
