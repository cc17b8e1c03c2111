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
import bench_population
import bench_proxy
import bench_suite
import bench_test_mutation

# In the order they run; mutate and test_mutation take about 5 and 20 minutes.
GROUPS = {
    "cli": bench_cli.run,
    "executor": bench_executor.run,
    "proxy": bench_proxy.run,
    "suite": bench_suite.run,
    "load": bench_load.run,
    "mutate": bench_mutate.run,  # about 5 min: fast, incremental, full
    "test_mutation": bench_test_mutation.run,  # a sample of the harness's own code mutants
    "population": bench_population.run,  # about 70 min: 200 generated IVRs (issue 19)
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(GROUPS),
        help="run only this group (repeatable), updating it in an existing --out file",
    )
    args = parser.parse_args()
    groups = args.only or list(GROUPS)
    earlier = json.loads(args.out.read_text()) if args.only and args.out.is_file() else {}
    results = {
        **earlier,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
    }
    for group in groups:
        results[group] = asyncio.run(GROUPS[group]())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for group in groups:
        for name, row in results[group].items():
            mark = "OK  " if row.get("met") else "MISS"
            print(f"{mark} {group:13} {name:34} target {row.get('target')}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
