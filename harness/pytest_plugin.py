"""pytest plugin of ivr-harness, registered through the `pytest11` entry point.

Kept thin: options and markers here, heavy imports inside hooks.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ivr-harness", "IVR integration chaos and contract harness")
    group.addoption(
        "--toxiproxy-url",
        action="store",
        default=None,
        help="drive this Toxiproxy server instead of the embedded one (also TOXIPROXY_URL)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running timing or chaos test")
    config.addinivalue_line("markers", "load: load run with many concurrent callers")
