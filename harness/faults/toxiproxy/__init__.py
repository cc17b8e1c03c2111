"""An embedded, Toxiproxy-API-compatible TCP fault proxy (asyncio).

Layers, importing downwards only: ``server`` (lifecycle, config) -> ``api``
(HTTP) -> ``collection`` (state) -> ``policy`` (loopback, limits) and ``decode``
(Go's JSON rules) -> ``proxy`` (sockets) -> ``toxics`` (stages) -> ``streams``
(the per-direction data path); ``address`` reads addresses as Go does.
"""

from __future__ import annotations

from .api import TOXIPROXY_VERSION
from .policy import Limits, check_serve_options
from .server import EmbeddedToxiproxy, load_config, serve

__all__ = [
    "TOXIPROXY_VERSION",
    "EmbeddedToxiproxy",
    "Limits",
    "check_serve_options",
    "load_config",
    "serve",
]
