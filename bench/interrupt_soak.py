"""Interrupt soak (issue 20): each long command stopped by each stop signal at random moments.

For `suite`, `gate`, `load` and `mutate`, and each of SIGINT, SIGTERM, SIGHUP and
SIGQUIT, `--tries` times (default 20), the command runs against a separately started
`ivr-harness toxiproxy serve` and gets the signal after a seeded random delay (from
0.3 s up to a command's typical length, so some land during start-up, most mid-run,
a few after the end). Each try must end with exit 128 + N (or 0/1 when the command
finished first), leave 0 proxies on the server, print no traceback, and leave a
results.json / load.json that parses, says `"complete": false` when interrupted (for
the suite, validated against the results schema), and a junit.xml that parses. A
signal that lands while the interpreter is still starting, before any handler can
exist, kills it by the default action (-N; a shell shows 128 + N): counted apart, and
clean only when nothing had begun (no report folder, no proxy).

    .venv/bin/python bench/interrupt_soak.py --tries 20 --out bench/interrupt_soak.json

Prints one line per command and signal and exits 1 if any try broke a rule.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile.interrupts import Outcome, soak  # noqa: E402

# Seconds: about each command's length on an idle 2-core machine (suite 18 s, mutate
# --sample 2 14 s, load 8 s of arrivals + start-up, gate 20 s), so the signal lands
# anywhere in it; on a busier machine fewer land after the end.
RANGES = {"suite": 20.0, "gate": 20.0, "load": 11.0, "mutate": 15.0}


def _rows(outcomes: list[Outcome]) -> dict[str, dict[str, object]]:
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(f"{outcome.command} {outcome.signal}", []).append(outcome)
    rows: dict[str, dict[str, object]] = {}
    for key, group in groups.items():
        stops = [o.stop_s for o in group]
        rows[key] = {
            "tries": len(group),
            "ok": sum(o.ok for o in group),
            "exits": dict(Counter(o.exit_code for o in group)),
            "killed_during_startup": sum(o.early for o in group),
            "proxies_left": sum(o.proxies_left for o in group),
            "stop_s_median": round(statistics.median(stops), 2),
            "stop_s_max": max(stops),
            "problems": [
                {"delay_s": o.delay_s, "exit": o.exit_code, "what": o.problems}
                for o in group
                if o.problems
            ],
        }
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--commands", default="suite,gate,load,mutate")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "interrupt_soak.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ivr-interrupt-soak-") as work:
        outcomes = soak(args.commands.split(","), args.tries, args.seed, Path(work), RANGES)
    rows = _rows(outcomes)
    args.out.write_text(json.dumps(rows, indent=2, default=str) + "\n")
    for key, row in rows.items():
        print(
            f"{'OK  ' if row['ok'] == row['tries'] else 'MISS'} {key:16} "
            f"{row['ok']}/{row['tries']} clean, exits {row['exits']}, "
            f"proxies left {row['proxies_left']}, stop median {row['stop_s_median']} s "
            f"(max {row['stop_s_max']} s)"
        )
    return 0 if all(row["ok"] == row["tries"] for row in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
