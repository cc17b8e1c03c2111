"""Python's garbage collector during a load run: young collections only, pauses measured.

A full (oldest-generation) collection walks every live object of the process and
stops the event loop while it does. With thousands of callers in flight a shard
holds some 115,000 tracked objects (each call's coroutines, timers, timeline
segments), and CPython starts a full collection every few seconds, whenever a
quarter as many objects again have outlived two young collections: each stopped
the loop for 40-130 ms, and every caller waiting on an HTTP step then heard that
much more dead air. Measured on two cores (bench/bench_load.py): the run held
4,000 concurrent callers with full collections, 7,000-9,000 without them.

Those collections find next to nothing: the objects that reach the oldest
generation are live calls, freed by reference counting when the call ends; the
full collections of a 6,000-caller run found 0-220 objects of cyclic garbage
each. So while callers are in flight the heap built before the run (imports,
flows, backends, proxies) is frozen out of the collector (`gc.freeze`, as
Instagram's servers do) and the oldest generation is collected only when the
run ends; young collections go on as ever. The pauses that remain are measured
and reported beside the loop's lag (`gc_pause_ms`), so a slow run says whether
its harness was collecting.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["GcPauses", "young_collections_only"]

# gen2's count grows by one per gen1 collection (a few a second): this is never.
_NEVER = 2**30
_depth = 0  # runs in this process inside young_collections_only (nested runs share it)
_saved: tuple[int, int, int] = gc.get_threshold()
_froze = False


@dataclass(kw_only=True)
class GcPauses:
    """The collections a run's loop stopped for, and the longest of them."""

    collections: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    _started: float = 0.0

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = (time.perf_counter() - self._started) * 1000
        self.collections += 1
        self.total_ms += pause
        self.max_ms = max(self.max_ms, pause)

    def to_json(self) -> dict[str, Any]:
        return {
            "collections": self.collections,
            "total": round(self.total_ms, 1),
            "max": round(self.max_ms, 1),
        }


@contextlib.contextmanager
def young_collections_only() -> Iterator[GcPauses]:
    """Freeze the heap built so far and defer full collections until the block ends.

    Collections of the two young generations go on; every pause is measured. Nested
    or concurrent runs in one process share the setting; the last to end puts the
    collector back as it was (thresholds, nothing frozen by the run).
    """
    global _depth, _saved, _froze
    pauses = GcPauses()
    if _depth == 0:
        _saved = gc.get_threshold()
        # A heap someone froze already stays theirs: unfreeze would thaw it too.
        _froze = gc.get_freeze_count() == 0
        if _froze:
            gc.freeze()
        gc.set_threshold(_saved[0], _saved[1], _NEVER)
    _depth += 1
    gc.callbacks.append(pauses.callback)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(pauses.callback)
        _depth -= 1
        if _depth == 0:
            gc.set_threshold(*_saved)
            if _froze:
                gc.unfreeze()
