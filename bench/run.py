"""`make bench`: every benchmark, one results file.

Each benchmark reports ratios against a baseline measured in the same run (the
machine is shared and noisy) and whether its target was met. Results go to
bench/results.json; the exit code is 0 even when a target is missed, because a
benchmark informs, it does not gate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

import bench_cli  # bench/ is on sys.path: the script's own folder
import bench_executor
import bench_load
import bench_mutate
import bench_proxy
import bench_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    args = parser.parse_args()
    results = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "cli": asyncio.run(bench_cli.run()),
        "executor": asyncio.run(bench_executor.run()),
        "proxy": asyncio.run(bench_proxy.run()),
        "suite": asyncio.run(bench_suite.run()),
        "load": asyncio.run(bench_load.run()),
        "mutate": asyncio.run(bench_mutate.run()),  # about 5 min: fast, incremental, full
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for group in ("cli", "executor", "proxy", "suite", "load", "mutate"):
        for name, row in results[group].items():
            mark = "OK  " if row.get("met") else "MISS"
            print(f"{mark} {group:8} {name:34} target {row.get('target')}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
