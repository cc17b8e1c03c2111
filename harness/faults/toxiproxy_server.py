"""Shortcut import path for the embedded Toxiproxy server (see :mod:`harness.faults.toxiproxy`)."""

from __future__ import annotations

from harness.faults.toxiproxy import EmbeddedToxiproxy, serve

__all__ = ["EmbeddedToxiproxy", "serve"]
