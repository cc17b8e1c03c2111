"""A load run's garbage collector: young collections only while callers are in flight,
the collector put back as it was when the run ends."""

from __future__ import annotations

import gc

from harness.scenario.collector import young_collections_only


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def _churn(objects: int = 200_000) -> None:
    """Enough container allocations for many young collections (700 per gen0 by default);
    each survivor kept for a while, as a call's state is."""
    kept: list[list[int]] = []
    for i in range(objects):
        kept.append([i])
        if len(kept) > 5_000:
            kept.clear()


def test_no_full_collection_runs_inside_and_young_ones_do() -> None:
    before = gc.get_threshold()
    full, young = gc.get_stats()[2]["collections"], gc.get_stats()[0]["collections"]
    with young_collections_only() as pauses:
        _churn()
        assert gc.get_stats()[2]["collections"] == full
        assert gc.get_stats()[0]["collections"] > young
        assert gc.get_freeze_count() > 0  # the heap built before the run is left alone
    assert pauses.collections > 0 and 0 < pauses.max_ms <= pauses.total_ms
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cyclic_garbage_made_during_the_run_is_collected_after_it() -> None:
    with young_collections_only():
        cycle = _Cycle()
        _churn()  # the cycle outlives two young collections: it waits in the oldest
        del cycle
    assert gc.collect() >= 1
    assert not [o for o in gc.get_objects() if type(o) is _Cycle]


def test_nested_runs_share_it_and_the_last_to_end_puts_it_back() -> None:
    before = gc.get_threshold()
    with young_collections_only():
        with young_collections_only():
            pass
        assert gc.get_threshold() != before  # the outer run is still going
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_heap_frozen_before_stays_frozen() -> None:
    gc.freeze()
    try:
        with young_collections_only():
            pass
        assert gc.get_freeze_count() > 0  # the run did not thaw it
    finally:
        gc.unfreeze()
