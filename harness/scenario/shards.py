"""One load run on this machine or split into shards on a Dask cluster, merged exactly.

Without a scheduler the whole plan runs in this process. With one, the plan's
arrivals are split into shards (shard k takes arrivals k, k+n, ...), each shard
is pinned to one worker, and each worker runs its shard's callers on its own
event loop with its own backends and proxies on its own loopback. Shards send
back plain JSON (histograms encoded the HdrHistogram way, counts, saturation),
which merges exactly. A shard whose worker dies or does not answer in time is
named in the report; what the other shards measured is kept.

Dask is imported only here and only for a distributed run: it is the optional
`[distributed]` extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.scenario.expectations import Check
from harness.scenario.histograms import LoadHistograms
from harness.scenario.load import LoadCounts, LoadStats, stats_from
from harness.scenario.loadplan import LoadPlan
from harness.scenario.loadrun import run_load
from harness.scenario.model import Scenario
from harness.scenario.runner import FlowSetRef

__all__ = [
    "DISTRIBUTED_EXTRA",
    "LoadReport",
    "ShardResult",
    "run_distributed",
    "run_processes",
    "run_shard",
]

DISTRIBUTED_EXTRA = "ivr-harness[distributed]"
_CONNECT_TIMEOUT_S = 5.0


@dataclass(kw_only=True)
class ShardResult:
    """What one shard measured, as it crossed the wire."""

    index: int
    worker: str = ""
    histograms: LoadHistograms = field(default_factory=LoadHistograms)
    counts: LoadCounts = field(default_factory=LoadCounts)
    saturation: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "shard": self.index,
            "worker": self.worker,
            "calls": self.counts.calls,
            "dropped": self.counts.dropped,
            "fallback": self.counts.fallback,
            "wall_s": round(self.wall_s, 2),
            "harness": self.saturation,
        }


@dataclass(kw_only=True)
class LoadReport:
    """A whole load run: merged statistics, each shard's part, and the shards lost."""

    stats: LoadStats
    shards: list[ShardResult]
    lost: dict[int, str] = field(default_factory=dict)  # shard -> why it has no results
    scheduler: str = ""
    wall_s: float = 0.0
    checks: list[Check] = field(default_factory=list)  # in-process runs only

    def harness(self) -> dict[str, Any]:
        """The harness's own saturation: merged loop lag and the worst shard's figures."""
        h = self.stats.histograms
        lag = h.loop_lag.summary() if h is not None else {}
        worst = max((s.saturation.get("cpu_ms_per_call", 0.0) for s in self.shards), default=0.0)
        saturated = any(s.saturation.get("saturated") for s in self.shards)
        gc_pause = max(
            (s.saturation.get("gc_pause_ms", {}).get("max", 0.0) for s in self.shards),
            default=0.0,
        )
        return {
            "loop_lag_ms": lag,
            "saturated": saturated,
            "cpu_ms_per_call_max": worst,
            "gc_pause_ms_max": gc_pause,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.stats.to_json(),
            "harness": self.harness(),
            "scheduler": self.scheduler or "in-process",
            "shards": [s.to_json() for s in self.shards],
            "lost_shards": [{"shard": k, "reason": v} for k, v in sorted(self.lost.items())],
        }


def run_shard(
    scenario: Scenario, flow_set: FlowSetRef, plan: LoadPlan, run_id: str, index: int, total: int
) -> dict[str, Any]:
    """Run one shard on a fresh event loop (what a Dask worker executes); JSON back."""
    run = asyncio.run(
        run_load(scenario, flow_set, plan, run_id=run_id, shard=(index, total), keep_calls=False)
    )
    return {
        "index": index,
        "histograms": run.histograms.to_wire(),
        "counts": run.counts.to_wire(),
        "saturation": run.saturation.to_json(run.counts.calls, run.peak_callers),
        "wall_s": run.wall_s,
    }


def _shard_from(data: Mapping[str, Any], worker: str) -> ShardResult:
    return ShardResult(
        index=int(data["index"]),
        worker=worker,
        histograms=LoadHistograms.from_wire(data["histograms"]),
        counts=LoadCounts.from_wire(data["counts"]),
        saturation=dict(data["saturation"]),
        wall_s=float(data["wall_s"]),
    )


def merge(shards: list[ShardResult], wall_s: float) -> LoadStats:
    """The statistics of every shard's calls together."""
    counts = LoadCounts()
    for shard in shards:
        counts.add(shard.counts)
    histograms = LoadHistograms.merged(s.histograms for s in shards)
    return stats_from(histograms, counts, wall_s)


def run_processes(
    scenario: Scenario,
    flow_set: FlowSetRef,
    plan: LoadPlan,
    *,
    run_id: str,
    processes: int,
    timeout_s: float,
    on_shard: Callable[[str], None] | None = None,
) -> LoadReport:
    """Shards in `processes` local processes (one event loop per core), merged the same way.

    `on_shard` hears one line as each shard ends.
    """
    import concurrent.futures
    import multiprocessing

    started = time.monotonic()
    context = multiprocessing.get_context("spawn")  # no copy of a parent's loop or sockets
    pool = concurrent.futures.ProcessPoolExecutor(processes, mp_context=context)
    try:
        shard = functools.partial(run_shard, scenario, flow_set, plan, run_id)
        results, lost = _gather(pool, shard, processes, timeout_s, on_shard)
    except BaseException:
        # Interrupted (a stop signal in this process): the shards stop too, at once,
        # rather than running out their plan behind a parent that is gone.
        for child in context.active_children():
            child.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=not lost, cancel_futures=True)
    wall_s = time.monotonic() - started
    return LoadReport(
        stats=merge(results, wall_s),
        shards=results,
        lost=lost,
        scheduler="local processes",
        wall_s=wall_s,
    )


def _gather(
    pool: Any,
    shard: Callable[[int, int], dict[str, Any]],
    processes: int,
    timeout_s: float,
    on_shard: Callable[[str], None] | None,
) -> tuple[list[ShardResult], dict[int, str]]:
    import concurrent.futures

    started = time.monotonic()
    results: list[ShardResult] = []
    lost: dict[int, str] = {}
    futures = {
        k: pool.submit(shard, k, processes)
        for k in range(processes)
    }
    index = {f: k for k, f in futures.items()}
    with contextlib.suppress(TimeoutError):
        for done in concurrent.futures.as_completed(futures.values(), timeout=timeout_s):
            _tell(on_shard, index[done], processes, done.exception() is None, started)
    for k, future in sorted(futures.items()):
        if future.done() and future.exception() is None:
            results.append(_shard_from(future.result(), f"process {k}"))
        elif future.done():
            exc = future.exception()
            lost[k] = f"process {k}: {type(exc).__name__}: {exc}"
        else:
            lost[k] = f"process {k}: no answer within {timeout_s:.0f} s"
    return results, lost


def _client(scheduler: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise HarnessError(f"--scheduler needs Dask: pip install '{DISTRIBUTED_EXTRA}'") from None
    _check_scheduler(scheduler)
    try:
        return Client(scheduler, timeout=_CONNECT_TIMEOUT_S, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise HarnessError(
            f"Dask scheduler {scheduler} did not answer within {_CONNECT_TIMEOUT_S:.0f} s: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None


def _check_scheduler(scheduler: str) -> None:
    """Refuse a malformed address before a Client exists: a Client that fails half-built
    times out again when collected, and prints a traceback after the one-line error."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(scheduler)
        host, port = parse_host_port(location, 8786)
    except ValueError as exc:
        raise ConfigError(f"not a scheduler address: {exc}", file="--scheduler") from None
    if scheme not in ("tcp", "tls") or not host or not 0 < int(port) <= 65535:
        raise ConfigError(
            f"not a scheduler address: {scheduler!r}",
            file="--scheduler",
            hint="e.g. tcp://127.0.0.1:8786",
        )


def run_distributed(
    scheduler: str,
    scenario: Scenario,
    flow_set: FlowSetRef,
    plan: LoadPlan,
    *,
    run_id: str,
    shards: int | None = None,
    timeout_s: float,
    on_shard: Callable[[str], None] | None = None,
) -> LoadReport:
    """Split the plan over the cluster's workers; merge what comes back within `timeout_s`.

    `on_shard` hears one line as each shard ends.
    """
    client = _client(scheduler)
    started = time.monotonic()
    try:
        workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
        if not workers:
            raise HarnessError(f"Dask scheduler {scheduler} has no workers")
        total = shards or len(workers)
        pinned = {k: workers[k % len(workers)] for k in range(total)}
        futures = {
            k: client.submit(
                run_shard,
                scenario,
                flow_set,
                plan,
                run_id,
                k,
                total,
                key=f"ivr-load-{run_id}-{k}of{total}",
                workers=[pinned[k]],
                allow_other_workers=False,
                retries=0,
                pure=False,
            )
            for k in range(total)
        }
        _wait(futures, total, started, timeout_s, on_shard)
        results, lost = _collect(futures, pinned, timeout_s)
    except (OSError, TimeoutError) as exc:
        raise HarnessError(f"Dask scheduler {scheduler} stopped answering: {exc}") from None
    finally:
        client.close(timeout=_CONNECT_TIMEOUT_S)
    wall_s = time.monotonic() - started
    return LoadReport(
        stats=merge(results, wall_s),
        shards=results,
        lost=lost,
        scheduler=scheduler,
        wall_s=wall_s,
    )


def _wait(
    futures: Mapping[int, Any],
    total: int,
    started: float,
    timeout_s: float,
    on_shard: Callable[[str], None] | None,
) -> None:
    """Until every shard has finished or failed, or the deadline (never a hang)."""
    pending = dict(futures)
    while pending and time.monotonic() < started + timeout_s:
        for k, f in list(pending.items()):
            if f.status in ("finished", "error", "cancelled"):
                del pending[k]
                _tell(on_shard, k, total, f.status == "finished", started)
        time.sleep(0.1)


def _tell(
    on_shard: Callable[[str], None] | None, k: int, total: int, ok: bool, started: float
) -> None:
    if on_shard is not None:
        ended = "ended" if ok else "FAILED"
        on_shard(f"shard {k + 1} of {total} {ended} after {time.monotonic() - started:,.0f} s")


def _collect(
    futures: Mapping[int, Any], pinned: Mapping[int, str], timeout_s: float
) -> tuple[list[ShardResult], dict[int, str]]:
    results: list[ShardResult] = []
    lost: dict[int, str] = {}
    for k, future in sorted(futures.items()):
        if future.status == "finished":
            results.append(_shard_from(future.result(), pinned[k]))
            continue
        if future.status == "error":
            exc = future.exception()
            why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        else:
            why = f"no answer within {timeout_s:.0f} s"
        lost[k] = f"worker {pinned[k]}: {why}"
        future.cancel()
    return results, lost
