"""Root conftest: Hypothesis profiles shared by the tests and the property suite.

Select one with ``--hypothesis-profile NAME`` or ``HYPOTHESIS_PROFILE=NAME``:
``dev`` (quick, local), ``ci`` (the default under ``make test``), ``nightly``
(at least 1,000 examples per property).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.fixtures.servers", "pytester"]

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "nightly",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
