"""`make soak`: the whole bundled suite N times beside K busy CPU hogs (SPEC 9, Trust).

Each round runs the suite in a fresh process (as a nightly job would) while K
`while True: pass` processes, started and killed by this script, compete for
the CPUs. Per round it prints the suite verdict and every run that is not ok;
at the end a summary and whether the bar held:

- hardened flows: 0 failures and 0 errors,
- seed flows: 0 unexpected passes (and 0 failures or errors),
- after the automatic rerun, at most 1 round in 20 ends inconclusive.

`--defect NAME` runs the same rounds against the hardened flows with a real
defect planted instead (see DEFECTS); then the bar is the opposite: every
round must fail, and the failures must be real, never inconclusive.
Exit code: 0 when the bar held, 1 when not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FLOWS = ROOT / "contracts" / "flows"
HOG = "while True: pass"
Flow = dict[str, Any]


def _timeout_12s(flows: dict[str, Flow]) -> None:
    """The CRM lookup waits 12 s per attempt instead of 2.5 s: past the dead-air budget."""
    step = _step(flows["customer-integration"], "http-customer-lookup")
    step["configuration"]["timeout"] = 12000


def _no_timeout_branch(flows: dict[str, Flow]) -> None:
    """The error router loses its `http_status_code == 0` branch and falls through to success.

    Removing the branch alone changes nothing in the hardened router (its default is
    already the outage path); the seed router's trap is the fall-through, so the
    default goes to process-success as `{{http_status_code}} < 500` does there.
    """
    router = _step(flows["customer-integration"], "error-router")["configuration"]
    router["conditions"] = [
        c for c in router["conditions"] if c["expression"] != "http_status_code == 0"
    ]
    router["defaultStepId"] = "process-success"


DEFECTS: dict[str, Callable[[dict[str, Flow]], None]] = {
    "timeout-12s": _timeout_12s,
    "no-timeout-branch": _no_timeout_branch,
}


def _step(flow: Flow, step_id: str) -> dict[str, Any]:
    step: dict[str, Any] = next(s for s in flow["steps"] if s["id"] == step_id)
    return step


def plant(defect: str, into: Path) -> Path:
    """A copy of the hardened flow set, named `hardened`, with `defect` planted."""
    target = into / "hardened"
    shutil.copytree(FLOWS / "hardened", target)
    flows = {p.stem: json.loads(p.read_text()) for p in target.glob("*.json")}
    DEFECTS[defect](flows)
    for name, flow in flows.items():
        (target / f"{name}.json").write_text(json.dumps(flow, indent=2))
    return target


def one_round(flow_dirs: list[Path]) -> dict[str, Any]:
    """Run the bundled suite once in this process; what the soak needs of it."""
    from harness.scenario.model import load_scenarios
    from harness.scenario.runner import load_flow_sets, run_suite

    scenarios = load_scenarios([ROOT / "scenarios"])
    suite = asyncio.run(run_suite(scenarios, load_flow_sets(flow_dirs)))
    runs = []
    for run in suite.runs:
        runs.append(
            {
                "id": run.id,
                "flow_set": run.flow_set,
                "verdict": run.verdict,
                "reruns": [r["verdict"] for r in run.reruns],
                "lag_ms": round(run.lag_ms),
                "why": [run.error] if run.error else [_check_line(c) for c in _shown(run)],
            }
        )
    return {"verdict": suite.verdict, "wall_s": round(suite.wall_ms / 1000, 1), "runs": runs}


def _shown(run: Any) -> list[Any]:
    """Checks worth printing: real failures that are not known defects, then inconclusive ones."""
    checks = [c for c in run.failures() if c.inconclusive or not c.known_defect]
    return sorted(checks, key=lambda c: c.inconclusive)


def _check_line(check: Any) -> str:
    mark = "INCONCLUSIVE" if check.inconclusive else "FAILED"
    return f"{mark} {check.title}: {check.actual}"[:240]


def _round_in_child(flow_dirs: list[Path]) -> dict[str, Any]:
    command = [sys.executable, __file__, "--one", *map(str, flow_dirs)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"verdict": "error", "wall_s": 0.0, "runs": [], "crash": " | ".join(tail)}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _bad_runs(result: dict[str, Any], defect: str | None) -> list[dict[str, Any]]:
    if defect:
        return [r for r in result["runs"] if r["verdict"] in ("fail", "error", "inconclusive")]
    return [r for r in result["runs"] if r["verdict"] not in ("pass", "expected_failure")]


def _line(index: int, result: dict[str, Any], defect: str | None) -> list[str]:
    counts = Counter(r["verdict"] for r in result["runs"])
    reran = sum(1 for r in result["runs"] if r["reruns"])
    head = (
        f"round {index:2}: {result['verdict']:12} {result['wall_s']:6.1f} s  "
        + " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        + (f"  reran={reran}" if reran else "")
    )
    lines = [head]
    if "crash" in result:
        lines.append(f"    crashed: {result['crash']}")
    for run in _bad_runs(result, defect)[: 12 if defect else 50]:
        lines.append(f"    {run['verdict']:12} {run['id']}")
        lines.extend(f"        {why}" for why in run["why"])
    return lines


def _verdict(results: list[dict[str, Any]], defect: str | None, rounds: int) -> tuple[bool, str]:
    if defect:
        caught = sum(1 for r in results if r["verdict"] == "fail")
        unclear = sum(
            1 for r in results for run in r["runs"] if run["verdict"] in ("inconclusive", "error")
        )
        ok = caught == len(results)
        return ok, (
            f"defect {defect}: caught in {caught}/{len(results)} rounds "
            f"(runs inconclusive or error: {unclear})"
        )
    runs = [run for r in results for run in r["runs"]]
    hardened = Counter(r["verdict"] for r in runs if r["flow_set"] == "hardened")
    seed = Counter(r["verdict"] for r in runs if r["flow_set"] == "seed")
    inconclusive = sum(1 for r in results if r["verdict"] == "inconclusive")
    allowed = rounds // 20  # at most 1 round in 20
    ok = (
        hardened["fail"] + hardened["error"] == 0
        and seed["unexpected_pass"] + seed["fail"] + seed["error"] == 0
        and all(r["verdict"] != "error" for r in results)
        and inconclusive <= allowed
    )
    return ok, (
        f"hardened: fail={hardened['fail']} error={hardened['error']} "
        f"inconclusive={hardened['inconclusive']}; seed: unexpected_pass="
        f"{seed['unexpected_pass']} fail={seed['fail']} error={seed['error']} "
        f"inconclusive={seed['inconclusive']}; rounds inconclusive {inconclusive} "
        f"(allowed {allowed}); runs rerun {sum(1 for r in runs if r['reruns'])}"
    )


def _stop_on_sigterm() -> None:
    # `kill PID` must not orphan the hogs: turn SIGTERM into the KeyboardInterrupt path.
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def soak(rounds: int, hogs: int, defect: str | None) -> int:
    _stop_on_sigterm()
    spawned = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(hogs)]
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
            dirs = [plant(defect, Path(tmp))] if defect else [FLOWS / "hardened", FLOWS / "seed"]
            print(f"soak: {rounds} rounds beside {hogs} CPU hogs, flows {[d.name for d in dirs]}"
                  + (f", defect {defect}" if defect else ""), flush=True)  # fmt: skip
            for index in range(1, rounds + 1):
                result = _round_in_child(dirs)
                results.append(result)
                print("\n".join(_line(index, result, defect)), flush=True)
    finally:
        for hog in spawned:
            hog.kill()
            hog.wait()
    ok, text = _verdict(results, defect, rounds)
    minutes = (time.monotonic() - started) / 60
    print(f"summary ({minutes:.1f} min): {text}")
    print("SOAK HELD" if ok else "SOAK FAILED", flush=True)
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--rounds", type=int, default=20, help="suite runs (default 20)")
    parser.add_argument("-k", "--hogs", type=int, default=2, help="busy CPU hogs (default 2)")
    parser.add_argument("--defect", choices=sorted(DEFECTS), help="plant this defect first")
    parser.add_argument("--one", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_round(args.one)))
        return
    sys.exit(soak(args.rounds, args.hogs, args.defect))


if __name__ == "__main__":
    main()
