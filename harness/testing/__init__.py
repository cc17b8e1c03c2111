"""Generated IVRs for testing tools around CXone flows (docs/generator.md).

``ivrs()`` is a Hypothesis strategy for whole IVRs: flows, the OpenAPI specs of their
backends and a project configuration, each correct by the integration guide.
``plant()`` breaks one in the ways the guide warns about, one change at a time;
``write_project()`` lays an IVR out as a team's repository; ``check_ivr()`` runs the
real ``ivr-harness`` commands over it and classifies what they say.
"""

from __future__ import annotations

from harness.testing.generator import ivrs
from harness.testing.model import HttpStep, Ivr

__all__ = ["HttpStep", "Ivr", "ivrs"]
