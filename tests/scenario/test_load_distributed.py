"""A load split over a real Dask cluster (two worker processes on loopback) merges exactly.

Dask's own warnings are filtered narrowly below: the suite runs with
`filterwarnings = error`, and a LocalCluster warns about things that are the
test machine's, not ours (a busy CPU delaying heartbeats, worker processes
shut down while a shard's sockets close).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.bundled import CONTRACTS, SCENARIOS
from harness.scenario.loadplan import LoadPlan
from harness.scenario.model import Fault, load_scenario
from harness.scenario.runner import FlowSetRef, load_flow_sets
from harness.scenario.shards import run_distributed, run_shard

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(180),
    # a 2-core machine shared with CPU hogs: heartbeats and GC pauses run late
    pytest.mark.filterwarnings("ignore:.*(event loop was unresponsive|full garbage collection).*"),
    # workers closing while the shard's last sockets drain
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore:.*[Pp]ort .* is already in use.*:UserWarning"),
]

LATENCY = Fault(
    kind="toxic",
    target="crm",
    spec={"type": "latency", "stream": "downstream", "attributes": {"latency": 200}},
    title="200 ms on the CRM",
)


@pytest.fixture(scope="module")
def flow_set() -> FlowSetRef:
    return load_flow_sets([CONTRACTS / "flows" / "hardened"])[0]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    # A shard whose worker dies is lost, not silently re-run elsewhere.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as local:
            yield local


def _scenario(audio: str = "instant") -> Any:
    base = load_scenario(SCENARIOS / "happy-path.yaml")
    return dataclasses.replace(base, faults=(LATENCY,), audio=audio, known_defects={})


def test_merged_counts_equal_the_shards_and_an_in_process_run(
    cluster: Any, flow_set: FlowSetRef
) -> None:
    plan = LoadPlan(arrival="poisson", rate=60, max_calls=200, slots=40, seed=11)
    scenario = _scenario()
    told: list[str] = []
    report = run_distributed(
        cluster.scheduler_address,
        scenario,
        flow_set,
        plan,
        run_id="t-dist",
        timeout_s=120,
        on_shard=told.append,
    )
    assert report.lost == {}
    assert sorted(line.split(" ended")[0] for line in told) == ["shard 1 of 2", "shard 2 of 2"]
    assert len(report.shards) == 2
    assert {s.worker for s in report.shards} == set(cluster.scheduler_info["workers"])
    stats = report.stats
    assert stats.calls == sum(s.counts.calls for s in report.shards) == 200
    assert stats.histograms is not None
    shard_counts = sum(s.histograms.dead_air.count for s in report.shards)
    assert stats.histograms.dead_air.count == shard_counts
    for outcome, n in stats.outcomes.items():
        assert n == sum(s.counts.outcomes.get(outcome, 0) for s in report.shards)

    alone = run_shard(scenario, flow_set, plan, "t-alone", 0, 1)
    assert alone["counts"]["calls"] == stats.calls
    assert abs(alone["counts"]["fallback"] - stats.fallback) <= 10
    # the fault shapes both runs alike: every lookup waits out the 200 ms latency
    assert stats.step_p95_ms["http-customer-lookup"] >= 200
    assert stats.dead_air_p50_ms >= 200


def test_a_dead_worker_names_its_shard_and_keeps_the_others(
    cluster: Any, flow_set: FlowSetRef
) -> None:
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    try:
        pids = client.run(os.getpid)
    finally:
        client.close()
    victim = sorted(pids)[1]  # shards are pinned in worker order: shard 1 runs here
    plan = LoadPlan(rate=40, max_calls=200, slots=200)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            run_distributed,
            cluster.scheduler_address,
            _scenario(audio="real"),
            flow_set,
            plan,
            run_id="t-kill",
            timeout_s=90,
        )
        time.sleep(4)  # both shards are mid-run: calls hold ~9 s of real audio
        os.kill(pids[victim], signal.SIGKILL)
        report = running.result(timeout=150)
    assert list(report.lost) == [1]
    assert victim in report.lost[1]
    assert [s.index for s in report.shards] == [0]
    assert report.stats.calls == report.shards[0].counts.calls == 100
    assert "lost_shards" in report.to_json()
