"""Interrupt a command at a moment it reaches, and judge what it left behind.

Shared by tests/hostile/test_interrupts.py (one moment per command and signal) and
bench/interrupt_soak.py (twenty random moments per command and signal).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema

ROOT = Path(__file__).resolve().parents[2]
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_HAPPY = str(ROOT / "scenarios" / "happy-path.yaml")
_OPENAPI = ROOT / "contracts" / "openapi"


@contextlib.contextmanager
def toxiproxy_server() -> Iterator[str]:
    """A separate `ivr-harness toxiproxy serve --port 0`, its API URL, stopped after."""
    command = [sys.executable, "-m", "harness", "toxiproxy", "serve", "--port", "0"]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)  # closes the pipe too


def proxies(url: str) -> list[str]:
    return sorted(httpx.get(f"{url}/proxies", timeout=10, trust_env=False).json())


def command(name: str, url: str, reports: Path) -> list[str]:
    """The command line of `name` (suite, gate, load, mutate) against Toxiproxy `url`."""
    where = ["--report-dir", str(reports)]
    specs = [
        f"--spec=api.crm-provider.com={_OPENAPI / 'crm.yaml'}",
        f"--spec=api.service-provider.com={_OPENAPI / 'tickets.yaml'}",
        f"--spec=auth.crm-provider.com={_OPENAPI / 'oauth.yaml'}",
    ]
    return {
        "suite": ["suite", "--toxiproxy-url", url, *where],
        # 1,000 examples a step: about 20 s on an idle machine (the default takes 2 s),
        # so a signal seconds in lands mid-run however fast the machine is.
        "gate": [
            "gate", str(ROOT / "contracts" / "flows" / "hardened"), *specs,
            "--max-examples", "1000", *where,
        ],
        "load": [
            "load", _HAPPY, "--rate", "20", "--duration", "8", "--slots", "100",
            "--toxiproxy-url", url, *where,
        ],
        "mutate": [
            "mutate", str(ROOT / "contracts" / "flows" / "hardened"), "--sample", "2",
            "--toxiproxy-url", url, *where,
        ],
    }[name]  # fmt: skip


@dataclass(kw_only=True)
class Outcome:
    """What an interrupted (or finished) command left: judged by :func:`judge`."""

    command: str
    signal: str
    delay_s: float
    exit_code: int
    stop_s: float
    proxies_left: int
    early: bool = False  # killed before its handlers existed (interpreter start-up)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def interrupt(
    name: str, signum: int, delay_s: float, url: str, reports: Path, *, when_proxies: bool = False
) -> Outcome:
    """Start `name`, send `signum` after `delay_s` (or once it has proxies), judge the rest."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160"}
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *command(name, url, reports)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    started = time.monotonic()
    while time.monotonic() - started < delay_s and process.poll() is None:
        if when_proxies and proxies(url):
            break
        time.sleep(0.05)
    sent = time.monotonic()
    if process.poll() is None:
        process.send_signal(signum)
    _, stderr = process.communicate(timeout=300)
    outcome = Outcome(
        command=name,
        signal=signal.Signals(signum).name,
        delay_s=round(sent - started, 2),
        exit_code=process.returncode,
        stop_s=round(time.monotonic() - sent, 2),
        proxies_left=0,
    )
    judge(outcome, signum, stderr, url, reports)
    return outcome


def judge(outcome: Outcome, signum: int, stderr: str, url: str, reports: Path) -> None:
    """Every problem a user would notice: a wrong exit, a traceback, a proxy left, a
    report that does not parse or does not say it is incomplete."""
    interrupted = outcome.exit_code == 128 + signum
    # Killed by the signal's default action: it came while the interpreter was still
    # starting (before any handler could exist). The shell shows 128 + N for that too;
    # it is clean only if the command had not begun: no report folder, no proxy.
    outcome.early = outcome.exit_code == -signum
    if outcome.early and reports.exists() and any(reports.iterdir()):
        outcome.problems.append("killed by the signal after it had started writing reports")
    if not (interrupted or outcome.early) and outcome.exit_code not in (0, 1):
        outcome.problems.append(f"exit {outcome.exit_code}")
    if "Traceback" in stderr or "Exception ignored" in stderr:
        outcome.problems.append("traceback: " + stderr[stderr.find("Traceback") :][:400])
    # The stop took the whole cleanup grace: the line names what it waited for.
    outcome.problems += [line[:600] for line in stderr.splitlines() if "stopped waiting" in line]
    deadline = time.monotonic() + 5  # a real server may still be answering the deletes
    left = proxies(url) if outcome.command != "gate" else []  # the gate makes no proxies
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = proxies(url)
    outcome.proxies_left = len(left)
    if left:
        outcome.problems.append(f"{len(left)} proxies left, e.g. {left[0]}")
    for folder in sorted(p for p in reports.glob("*") if p.is_dir()):
        outcome.problems += _report_problems(outcome.command, folder, interrupted)


def _report_problems(name: str, folder: Path, interrupted: bool) -> list[str]:
    problems: list[str] = []
    document_name = "load.json" if name == "load" else "results.json"
    try:
        document: Any = json.loads((folder / document_name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{document_name} unreadable: {exc}"]
    if interrupted and document.get("complete") is not False:
        problems.append(f"{document_name} of an interrupted run does not say so")
    if name == "suite":
        schema = json.loads((ROOT / "contracts/schemas/results.schema.json").read_text())
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(document))
        problems += [f"results.json: {e.message}" for e in errors[:3]]
    if name != "load":
        try:
            ET.parse(folder / "junit.xml")
        except (OSError, ET.ParseError) as exc:
            problems.append(f"junit.xml unreadable: {exc}")
    return problems


def soak(
    commands: list[str], tries: int, seed: int, work: Path, ranges: dict[str, float]
) -> list[Outcome]:
    """`tries` random moments per command and signal, each against a fresh report folder."""
    rng = random.Random(seed)
    outcomes = []
    with toxiproxy_server() as url:
        for name in commands:
            for signum in SIGNALS:
                for attempt in range(tries):
                    delay = rng.uniform(0.3, ranges[name])
                    reports = work / f"{name}-{signal.Signals(signum).name}-{attempt}"
                    outcomes.append(interrupt(name, signum, delay, url, reports))
    return outcomes
