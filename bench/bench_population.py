"""The harness over a population of generated IVRs (issue 19): recall and false alarms.

N IVRs (default 200) are drawn from `harness.testing.ivrs()` with a fixed seed, each
written out as a project folder (flows/, openapi/, ivr-harness.toml) under
reports/population/<seed>/, and run through the real CLI, one process per command:

* the correct IVR: `lint`, `gate` and `suite` (the battery); anything they fail is a
  false alarm, a traceback or an exit code outside 0/1/2 a crash;
* K planted defects per IVR (default 2; traps drawn uniformly among those that apply,
  so rare ones are planted too): `lint` and `gate` (statically visible ones must be
  named) and `suite -k battery-<flow>-<step>-` (dynamically observable ones must fail
  a battery check about their step, not already failing on the correct IVR);
* `mutate --sample M` (default 3) on the correct IVR: its score per IVR, on every 4th
  IVR by default (`--mutate-every`; 1 for all 200).

Reported: battery recall (dynamic defects caught / planted), lint+gate recall (static),
false alarms on correct IVRs (IVRs, battery runs and checks), crashes, mean battery runs
and wall time per IVR, the mutate score, and every failure grouped by root cause with an
example folder: those folders are ready to run (`cd` there; the README says how).
Targets (issue 19): 0 crashes, 0 false alarms, battery recall >= 95 %, lint+gate
recall >= 98 %. One IVR's record is appended to progress.jsonl as soon as it is done, and
a rerun with the same seed skips IVRs already recorded, so a long run can be resumed.

Run: .venv/bin/python bench/bench_population.py [--n 200] [--jobs 2] [--out FILE]
(`make bench` runs it as the group `population`; alone, it updates that group of
bench/results.json.)
About 1.5-2 minutes of machine time per IVR (8 HTTP steps at most): hours for 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _common  # bench/ is on sys.path: the scripts' own folder
from hypothesis import HealthCheck, Phase, given, seed, settings

from harness.testing import Ivr, ivrs
from harness.testing.planter import Defect, plant
from harness.testing.runner import check_defect, check_ivr
from harness.testing.runner import run as run_cli

SEED = 19_2026
N = 200
DEFECTS_PER_IVR = 2
MUTANTS_PER_IVR = 3
MUTATE_EVERY = 4  # mutate --sample on every 4th IVR: 50 of 200 (about a quarter of the time)
ROOT = Path("reports/population")


def draw(n: int, at: int, max_http_steps: int = 8) -> list[Ivr]:
    """The first `n` distinct IVRs Hypothesis draws with seed `at`."""
    found: dict[str, Ivr] = {}

    @seed(at)
    @settings(max_examples=3 * n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(ivrs(max_http_steps=max_http_steps))
    def collect(ivr: Ivr) -> None:
        if len(found) < n:
            found.setdefault(ivr.name, ivr)

    collect()
    return list(found.values())


def choose(ivr: Ivr, k: int, at: int) -> list[Defect]:
    """K defects of distinct traps, each trap equally likely among those that apply."""
    rng = random.Random(f"{at}:{ivr.name}")
    by_trap: dict[str, list[Defect]] = defaultdict(list)
    for defect in plant(ivr):
        by_trap[defect.trap].append(defect)
    traps = sorted(by_trap)
    rng.shuffle(traps)
    return [rng.choice(by_trap[trap]) for trap in traps[:k]]


def one_ivr(ivr: Ivr, folder: Path, k: int, mutants: int, at: int) -> dict[str, Any]:
    # `mutants` 0: no mutate for this IVR (see --mutate-every)
    """Everything about one IVR: the correct one, its planted defects, its mutate score."""
    started = time.monotonic()
    if folder.exists():
        shutil.rmtree(folder)
    baseline = check_ivr(ivr, folder / "correct")
    defects = [
        check_defect(ivr, d, folder / "defects" / _slug(d.id), baseline, dtmf=None)
        for d in choose(ivr, k, at)
    ]
    record: dict[str, Any] = {
        "ivr": ivr.to_json(),
        "correct": baseline.to_json(),
        "failed_runs": len(baseline.failed_runs),
        "defects": [d.to_json() for d in defects],
    }
    if mutants:
        (folder / "correct" / "scenarios").mkdir(exist_ok=True)  # see "mutate" below
        done = run_cli(ivr, folder / "correct", "mutate", "mutate", "flows", "--sample",
                   str(mutants), "--seed", str(at), "--report-dir", "reports/mutate")  # fmt: skip
        report = done.report or {}
        record["mutate"] = {
            "exit_code": done.exit_code,
            "crashed": done.crashed,
            "seconds": round(done.seconds, 1),
            "score": report.get("score"),
            "counts": report.get("counts"),
            "error": done.stderr.strip().splitlines()[-1:] if done.exit_code == 2 else [],
        }
    record["seconds"] = round(time.monotonic() - started, 1)
    return record


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:90]


def population(n: int, k: int, mutants: int, jobs: int, at: int,
               every: int = 1) -> list[dict[str, Any]]:  # fmt: skip
    work = ROOT / str(at)
    work.mkdir(parents=True, exist_ok=True)
    progress = work / "progress.jsonl"
    done: dict[str, dict[str, Any]] = {}
    if progress.exists():
        for line in progress.read_text().splitlines():
            record = json.loads(line)
            done[record["ivr"]["name"]] = record
    drawn = draw(n, at)
    sampled = {ivr.name for ivr in drawn[::every]}  # mutate on every `every`-th IVR
    todo = [i for i in drawn if i.name not in done]
    lock = threading.Lock()
    print(f"bench_population: {n} IVRs (seed {at}), {len(todo)} to run, in {work}",
          file=sys.stderr, flush=True)  # fmt: skip

    def work_on(ivr: Ivr) -> None:
        record = one_ivr(ivr, work / ivr.name, k, mutants if ivr.name in sampled else 0, at)
        with lock:
            done[ivr.name] = record
            with progress.open("a") as out:
                out.write(json.dumps(record) + "\n")
            print(f"[{len(done)}/{n}] {ivr.name}: {record['correct']['verdict']}, "
                  f"{sum(d['caught_dynamic'] or d['caught_static'] for d in record['defects'])}"
                  f"/{len(record['defects'])} defects caught, {record['seconds']} s",
                  file=sys.stderr, flush=True)  # fmt: skip

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(work_on, todo))
    order = [i.name for i in drawn]
    return [done[name] for name in order if name in done]


def summarise(records: list[dict[str, Any]], at: int) -> dict[str, Any]:
    correct = [r["correct"] for r in records]
    verdicts = Counter(c["verdict"] for c in correct)
    defects = [d for r in records for d in r["defects"]]
    dynamic = [d for d in defects if "dynamic" in d["labels"]]
    static = [d for d in defects if "static" in d["labels"]]
    crashes = sum(c["verdict"] == "crash" for c in correct) + sum(d["crashed"] for d in defects)
    crashes += sum(bool(r.get("mutate", {}).get("crashed")) for r in records)
    battery_recall = _ratio(sum(d["caught_dynamic"] for d in dynamic), len(dynamic))
    static_recall = _ratio(sum(d["caught_static"] for d in static), len(static))
    scores = [r["mutate"]["score"] for r in records if r.get("mutate", {}).get("score") is not None]
    false_alarm_checks = [f for c in correct for f in c["findings"] if f["severity"] == "error"]
    return {
        "seed": at,
        "ivrs": len(records),
        "http_steps": sum(len(r["ivr"]["http_steps"]) for r in records),
        "correct_verdicts": dict(verdicts),
        "false_alarm_ivrs": verdicts["false_alarm"] + verdicts["error"],
        "false_alarm_runs": sum(r["failed_runs"] for r in records),
        "false_alarm_checks": len(false_alarm_checks),
        "crashes": crashes,
        "defects_planted": len(defects),
        "dynamic_planted": len(dynamic),
        "dynamic_caught": sum(d["caught_dynamic"] for d in dynamic),
        "battery_recall": battery_recall,
        "battery_class_named": _ratio(sum(d["class_named"] for d in dynamic), len(dynamic)),
        "static_planted": len(static),
        "static_caught": sum(d["caught_static"] for d in static),
        "lint_gate_recall": static_recall,
        "equivalent_planted": sum(d["labels"] == ["equivalent"] for d in defects),
        "mean_battery_runs_per_ivr": _mean(c["battery_runs"] for c in correct),
        "mean_wall_s_per_ivr": _mean(r["seconds"] for r in records),
        "mean_correct_ivr_s": _mean(c["seconds"] for c in correct),
        "mutate_mean_score": _mean(scores),
        "mutate_min_score": min(scores) if scores else None,
        "mutate_runs": len(scores),
        "mutate_errors": sum(r.get("mutate", {}).get("exit_code") == 2 for r in records),
        "by_trap": _by_trap(defects),
        "false_alarm_causes": _causes(
            (f, c["folder"]) for c in correct for f in c["findings"] if f["severity"] == "error"
        ),
        "missed": _missed(dynamic, static),
        "target": "0 crashes, 0 false alarms, battery recall >= 0.95, lint+gate recall >= 0.98",
        "met": crashes == 0
        and verdicts["false_alarm"] + verdicts["error"] == 0
        and (battery_recall or 0) >= 0.95
        and (static_recall or 0) >= 0.98,
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(sum(items) / len(items), 2) if items else None


def _by_trap(defects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for d in defects:
        row = out.setdefault(d["trap"], {"labels": Counter(), "planted": 0, "static_caught": 0,
                                         "dynamic_caught": 0, "class_named": 0})  # fmt: skip
        row["planted"] += 1
        row["labels"]["+".join(d["labels"])] += 1
        row["static_caught"] += d["caught_static"]
        row["dynamic_caught"] += d["caught_dynamic"]
        row["class_named"] += d["class_named"]
    return {k: {**v, "labels": dict(v["labels"])} for k, v in sorted(out.items())}


def _causes(findings: Iterable[tuple[dict[str, Any], str]]) -> list[dict[str, Any]]:
    """Failures grouped by kind (ids and numbers taken out), most frequent first."""
    groups: dict[str, dict[str, Any]] = {}
    for finding, folder in findings:
        group = groups.setdefault(finding["kind"], {"kind": finding["kind"], "count": 0,
                                                     "ivrs": set(), "example": finding["text"],
                                                     "folder": folder})  # fmt: skip
        group["count"] += 1
        group["ivrs"].add(folder)
    ranked = sorted(groups.values(), key=lambda g: (-len(g["ivrs"]), -g["count"]))
    return [{**g, "ivrs": len(g["ivrs"])} for g in ranked]


def _missed(dynamic: list[dict[str, Any]], static: list[dict[str, Any]]) -> dict[str, Any]:
    def group(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for d in items:
            by[d["trap"]].append(d)
        ranked = sorted(by.items(), key=lambda kv: -len(kv[1]))
        return [{"trap": t, "missed": len(ds), "example": ds[0]["change"],
                 "folder": ds[0]["folder"]} for t, ds in ranked]  # fmt: skip

    return {
        "dynamic": group([d for d in dynamic if not d["caught_dynamic"]]),
        "static": group([d for d in static if not d["caught_static"]]),
    }


async def run_bench(
    n: int = N, k: int = DEFECTS_PER_IVR, mutants: int = MUTANTS_PER_IVR, jobs: int = 2,
    at: int = SEED, every: int = MUTATE_EVERY,
) -> dict[str, Any]:  # fmt: skip
    started = time.monotonic()
    records = await asyncio.to_thread(population, n, k, mutants, jobs, at, every)
    summary = summarise(records, at)
    summary.update(jobs=jobs, defects_per_ivr=k, mutate_sample=mutants, mutate_every=every)
    summary["wall_s"] = round(time.monotonic() - started, 1)
    (ROOT / str(at) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return {"population": summary}


async def run() -> dict[str, Any]:
    return await run_bench()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=N, help="IVRs to draw")
    parser.add_argument("--defects", type=int, default=DEFECTS_PER_IVR, help="defects per IVR")
    parser.add_argument(
        "--mutants",
        type=int,
        default=MUTANTS_PER_IVR,
        help="mutate --sample per IVR (0: no mutate)",
    )
    parser.add_argument("--mutate-every", type=int, default=MUTATE_EVERY,
                        help="mutate on every Nth IVR (1: all)")
    parser.add_argument("--jobs", type=int, default=2, help="IVRs at once")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"),
                        help="results file: its 'population' group is replaced, the rest kept")
    parser.add_argument("--summarise-only", action="store_true",
                        help="run nothing: summarise the IVRs already recorded for the seed")
    args = parser.parse_args()
    if args.summarise_only:
        progress = ROOT / str(args.seed) / "progress.jsonl"
        records = [json.loads(line) for line in progress.read_text().splitlines()]
        summary = summarise(records, args.seed)
        summary.update(partial=f"{len(records)} of {args.n} IVRs recorded",
                       defects_per_ivr=args.defects, mutate_sample=args.mutants,
                       mutate_every=args.mutate_every)  # fmt: skip
        results = {"population": summary}
    else:
        results = asyncio.run(run_bench(args.n, args.defects, args.mutants, args.jobs,
                                        args.seed, args.mutate_every))  # fmt: skip
    earlier = json.loads(args.out.read_text()) if args.out.is_file() else {}
    args.out.write_text(json.dumps({**earlier, **results}, indent=2) + "\n")
    print("\n".join(_common.summary(results)))
    row = results["population"]
    for cause in row["false_alarm_causes"][:25]:
        print(f"  {cause['ivrs']:4} IVRs  {cause['kind'][:110]}\n        e.g. {cause['folder']}")


if __name__ == "__main__":
    main()
