"""What every benchmark script shares: its command line and its one-line-per-target summary."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


def summary(results: dict[str, dict[str, Any]]) -> list[str]:
    """One line per measurement: OK/MISS, its numbers, its target."""
    lines = []
    for name, row in results.items():
        numbers = ", ".join(
            f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
            for k, v in row.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        )
        lines.append(
            f"{'OK  ' if row.get('met') else 'MISS'} {name:34} {numbers}  (target {row['target']})"
        )
    return lines


def main(doc: str | None, run: Callable[[], Awaitable[dict[str, Any]]], default_out: str) -> None:
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--out", type=Path, default=Path(default_out))
    args = parser.parse_args()
    results = asyncio.run(run())
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(summary(results)))
