"""Suites shared by the report tests: the real one runs once per session (about a second)."""

from __future__ import annotations

import pytest

from harness.scenario.runner import SuiteResult
from tests.report.samples import real_suite, synthetic_suite


@pytest.fixture(scope="session")
def happy_suite() -> SuiteResult:
    return real_suite()


@pytest.fixture(scope="session")
def fake_suite() -> SuiteResult:
    return synthetic_suite()


@pytest.fixture(scope="session", params=["real", "synthetic"])
def any_suite(request: pytest.FixtureRequest, happy_suite: SuiteResult) -> SuiteResult:
    return happy_suite if request.param == "real" else synthetic_suite()
