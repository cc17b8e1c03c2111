"""`ivrs()`: the Hypothesis strategy for whole IVRs (flows + backend specs + configuration)."""

from __future__ import annotations

from hypothesis import strategies as st

from harness.testing.assemble import assemble
from harness.testing.model import Ivr
from harness.testing.plan import plans

__all__ = ["ivrs"]


def ivrs(*, min_http_steps: int = 1, max_http_steps: int = 8) -> st.SearchStrategy[Ivr]:
    """Realistic CXone IVRs, each correct by the integration guide, with their OpenAPI specs.

    Every drawn :class:`~harness.testing.model.Ivr` has between `min_http_steps` and
    `max_http_steps` HTTP Request steps (1 to 8). It shrinks toward one GET behind one
    CollectDigits on one host.
    """
    if not 1 <= min_http_steps <= max_http_steps <= 8:
        raise ValueError("need 1 <= min_http_steps <= max_http_steps <= 8")
    return plans(min_http_steps, max_http_steps).map(assemble)
