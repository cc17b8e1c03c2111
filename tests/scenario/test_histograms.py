"""Load statistics as HDR histograms: shards merge into exactly the whole run's numbers."""

from __future__ import annotations

import json
import random

from harness.scenario.histograms import Histogram, Level, LoadHistograms
from harness.scenario.load import percentile


def test_shards_merge_exactly_into_the_whole() -> None:
    rng = random.Random(7)
    whole, shards = LoadHistograms(), [LoadHistograms() for _ in range(3)]
    values = [rng.expovariate(1 / 80) for _ in range(3000)]
    for i, value in enumerate(values):
        whole.dead_air.record(value)
        whole.record_step("lookup", value / 2)
        shards[i % 3].dead_air.record(value)
        shards[i % 3].record_step("lookup", value / 2)
    # across a process boundary as JSON, as Dask workers return them
    wired = [LoadHistograms.from_wire(json.loads(json.dumps(s.to_wire()))) for s in shards]
    merged = LoadHistograms.merged(wired)
    assert merged.dead_air.summary() == whole.dead_air.summary()
    assert merged.steps["lookup"].summary() == whole.steps["lookup"].summary()
    assert merged.dead_air.count == 3000


def test_percentiles_within_a_tenth_of_a_percent_of_exact() -> None:
    rng = random.Random(3)
    values = [rng.uniform(1, 30_000) for _ in range(2000)]
    hist = Histogram()
    for value in values:
        hist.record(value)
    for q in (50, 95, 99):
        exact = percentile(values, q)
        assert abs(hist.percentile(q) - exact) <= exact * 0.001 + 0.001


def test_levels_integrate_per_second_and_add() -> None:
    a, b = Level(), Level()
    a.change(0.5, 2)
    a.change(1.5, -2)
    a.close(2.0)
    b.change(0.0, 1)
    b.close(2.0)
    a.merge(Level.from_wire(b.to_wire()))
    assert a.series() == [2.0, 2.0]
    assert Histogram().percentile(99) == 0.0
