"""Run the real `ivr-harness` commands over a generated IVR and say what they found.

`check_ivr` writes the IVR as a project folder and runs `lint`, `gate` and `suite` (the
battery runs because the configuration names backends) in it, each in its own process,
as a user would. The IVR is correct by construction, so anything they fail is a false
alarm, and a traceback or an exit code other than 0, 1 and 2 is a crash.

`check_defect` does the same for a planted defect, keeps only what the correct IVR did
not already report, and decides whether the defect was caught: statically (a lint or
gate finding that names its step) and dynamically (a battery check about its step).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.testing.model import HttpStep, Ivr
from harness.testing.planter import Defect
from harness.testing.project import gate_command, set_dead_air, write_project

__all__ = ["Command", "DefectResult", "Finding", "IvrResult", "check_defect", "check_ivr"]

CLI = (sys.executable, "-m", "harness.cli")
_TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """One command as it ran: arguments, exit code, time, output, the report it wrote."""

    name: str
    argv: tuple[str, ...]
    exit_code: int  # -1: killed after the time limit
    seconds: float
    stdout: str = field(repr=False)
    stderr: str = field(repr=False)
    report: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def crashed(self) -> bool:
        """A traceback, a hang, or an exit code outside 0/1/2."""
        return self.exit_code not in (0, 1, 2) or _TRACEBACK in self.stdout + self.stderr

    def line(self) -> str:
        return f"ivr-harness {' '.join(self.argv)}: exit {self.exit_code} in {self.seconds:.1f} s"


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """Something a command failed: who, what kind (for grouping), where, and its text."""

    source: str  # lint | gate | battery | crash
    kind: str  # the root-cause signature: no step ids, no numbers
    step: str  # flow/step it is about, when known
    text: str
    severity: str = "error"
    run: str = ""  # the battery run it failed in

    @property
    def key(self) -> tuple[str, str]:
        """What makes it the same finding in another run of the same IVR: the battery's
        run and kind (a bound's number may differ), the exact text of a static one."""
        return (self.run, self.kind) if self.source == "battery" else (self.source, self.text)

    @property
    def unreached(self) -> bool:
        """A battery failure that only says the step never ran: it tested nothing."""
        return "did not run" in self.text or "never reached" in self.text

    def to_json(self) -> dict[str, str]:
        return {"source": self.source, "kind": self.kind, "step": self.step, "text": self.text,
                "severity": self.severity, "run": self.run}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class IvrResult:
    """What the commands said about one (correct) IVR."""

    name: str
    folder: Path
    verdict: str  # pass | false_alarm | error | crash
    commands: tuple[Command, ...]
    findings: tuple[Finding, ...]
    battery_runs: int = 0
    inconclusive: int = 0
    failed_runs: frozenset[str] = frozenset()

    @property
    def seconds(self) -> float:
        return sum(c.seconds for c in self.commands)

    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "folder": str(self.folder),
            "verdict": self.verdict,
            "seconds": round(self.seconds, 1),
            "battery_runs": self.battery_runs,
            "inconclusive": self.inconclusive,
            "commands": [c.line() for c in self.commands],
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DefectResult:
    """Whether a planted defect was caught, and by what."""

    defect: Defect
    folder: Path
    commands: tuple[Command, ...]
    static_by: tuple[Finding, ...] = ()  # new lint/gate findings naming the step
    dynamic_by: tuple[Finding, ...] = ()  # new battery failures about the step
    class_named: bool = False  # a failing battery run is of an expected class

    @property
    def crashed(self) -> bool:
        return any(c.crashed for c in self.commands)

    @property
    def caught_static(self) -> bool:
        return bool(self.static_by)

    @property
    def caught_dynamic(self) -> bool:
        return bool(self.dynamic_by)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.defect.to_json(),
            "folder": str(self.folder),
            "caught_static": self.caught_static,
            "caught_dynamic": self.caught_dynamic,
            "class_named": self.class_named,
            "crashed": self.crashed,
            "static_by": [f.text for f in self.static_by],
            "dynamic_by": [f.text for f in self.dynamic_by],
            "commands": [c.line() for c in self.commands],
        }


def run(ivr: Ivr, folder: Path, name: str, *args: str, timeout_s: float = 900) -> Command:
    """`ivr-harness ARGS` in `folder`, with the IVR's secrets in the environment."""
    env = {**os.environ, **ivr.environment, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    started = time.monotonic()
    try:
        done = subprocess.run(
            [*CLI, *args], cwd=folder, env=env, capture_output=True, text=True,
            timeout=timeout_s,
        )  # fmt: skip
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        code, out, err = (
            -1,
            _text(exc.stdout),
            _text(exc.stderr) + f"\n(killed after {timeout_s} s)",
        )
    seconds = time.monotonic() - started
    return Command(name=name, argv=tuple(args), exit_code=code, seconds=seconds, stdout=out,
                   stderr=err, report=_report(name, folder, args, out))  # fmt: skip


def check_ivr(
    ivr: Ivr,
    folder: Path,
    *,
    dtmf: Sequence[str] | None = None,
    battery: bool = True,
    gate: bool = True,
    init: bool = False,
) -> IvrResult:
    """Write `ivr` under `folder` and run lint, gate and suite over it.

    With `init`, the folder holds only the flows and specs, and `ivr-harness init`
    writes the configuration (and its happy-path scenario) as it does for a team; the
    dead-air budget is then set as a team would edit it.
    """
    write_project(ivr, folder, dtmf=dtmf, config=not init)
    commands = []
    if init:
        commands.append(run(ivr, folder, "init", "init"))
        if commands[-1].exit_code == 0:
            set_dead_air(ivr, folder)
    commands.append(run(ivr, folder, "lint", "lint", "--format", "json"))
    if gate:
        commands.append(run(ivr, folder, "gate", *gate_command(ivr), "--report-dir",
                            "reports/gate", "--run-id", "gate"))  # fmt: skip
    if battery:
        commands.append(run(ivr, folder, "suite", "suite", "--report-dir", "reports/suite"))
    findings = [f for c in commands for f in findings_of(ivr, c)]
    verdict = _verdict(commands)
    suite = next((c for c in commands if c.name == "suite"), None)
    runs = (suite.report or {}).get("runs", []) if suite else []
    failed = frozenset(r["id"] for r in runs if r.get("verdict") in ("fail", "error"))
    return IvrResult(
        name=ivr.name,
        folder=folder,
        verdict=verdict,
        commands=tuple(commands),
        findings=tuple(findings),
        battery_runs=len(runs),
        inconclusive=sum(r.get("verdict") == "inconclusive" for r in runs),
        failed_runs=failed,
    )


def _verdict(commands: Sequence[Command]) -> str:
    if any(c.crashed for c in commands):
        return "crash"
    if any(c.exit_code == 2 for c in commands):
        return "error"
    if any(c.exit_code == 1 for c in commands):
        return "false_alarm"
    return "pass"


def check_defect(
    ivr: Ivr, defect: Defect, folder: Path, baseline: IvrResult, *, dtmf: Sequence[str] | None
) -> DefectResult:
    """Write the defect's project under `folder`; run what should see it; compare."""
    note = (f"Planted defect `{defect.trap}` ({', '.join(sorted(defect.labels))}): "
            f"{defect.change}\n\nWhy it matters: {defect.why}")  # fmt: skip
    write_project(ivr, folder, flows=defect.flows, dtmf=dtmf, note=note)
    step = ivr.step(defect.flow_id, defect.step_id)
    commands = [run(ivr, folder, "lint", "lint", "--format", "json"),
                run(ivr, folder, "gate", *gate_command(ivr), "--report-dir", "reports/gate",
                    "--run-id", "gate")]  # fmt: skip
    if defect.dynamic:
        prefix = f"battery-{step.flow_id}-{step.step_id}-"
        commands.append(run(ivr, folder, "suite", "suite", "--report-dir", "reports/suite",
                            "-k", prefix))  # fmt: skip
    known = {f.key for f in baseline.findings}
    new = [f for c in commands for f in findings_of(ivr, c) if f.key not in known]
    names = _names(ivr, step)
    static_by = [f for f in new if f.source in ("lint", "gate") and _about(f, names)]
    dynamic_by = [f for f in new if f.source == "battery" and _about(f, names)
                  and f.severity == "error" and not f.unreached]  # fmt: skip
    classes = {_battery_class(ivr, f.kind) for f in dynamic_by}
    return DefectResult(
        defect=defect,
        folder=folder,
        commands=tuple(commands),
        static_by=tuple(static_by),
        dynamic_by=tuple(dynamic_by),
        class_named=bool(classes & set(defect.expect_dynamic)),
    )


def _names(ivr: Ivr, step: HttpStep) -> set[str]:
    names = {step.step_id, step.router_id}
    if step.wait_id:
        names.add(step.wait_id)
    return names


def _about(finding: Finding, names: set[str]) -> bool:
    where = finding.step.rsplit("/", 1)[-1]
    return where in names or any(re.search(rf"\b{re.escape(n)}\b", finding.text) for n in names)


# -- reading what the commands wrote ---------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value or "")


def _report(name: str, folder: Path, args: Sequence[str], stdout: str) -> dict[str, Any] | None:
    try:
        if name == "lint":
            loaded: dict[str, Any] = json.loads(stdout)
            return loaded
        if name == "gate":
            return dict(json.loads((folder / "reports/gate/gate/results.json").read_text()))
        if name in ("suite", "mutate"):
            where = folder / "reports" / name
            latest = max(where.glob("*/results.json"), key=lambda p: p.stat().st_mtime)
            return dict(json.loads(latest.read_text()))
    except (OSError, ValueError):
        return None
    return None


def findings_of(ivr: Ivr, command: Command) -> list[Finding]:
    """Every failure (and, for lint and the gate, warning) a command reported."""
    out: list[Finding] = []
    if command.crashed:
        last = [line for line in (command.stderr or command.stdout).splitlines() if line.strip()]
        text = last[-1] if last else "(no output)"
        out.append(Finding(source="crash", kind=f"{command.name} crash: {_generic(ivr, text)}",
                           step="", text=f"{command.line()}: {text}"))  # fmt: skip
    elif command.exit_code == 2:
        text = " ".join(command.stderr.split())[:400]
        out.append(Finding(source=command.name, kind=f"{command.name} exit 2: "
                           f"{_generic(ivr, text)}", step="", text=text))  # fmt: skip
    report = command.report or {}
    if command.name == "lint":
        out += [_lint(ivr, f, "lint") for f in report.get("findings", [])]
    elif command.name == "gate":
        out += _gate(ivr, report)
    elif command.name == "suite":
        out += _suite(ivr, report)
    return out


def _lint(ivr: Ivr, f: Mapping[str, Any], source: str) -> Finding:
    step = f"{f.get('flow_id', '')}/{f.get('step_id', '')}"
    return Finding(
        source=source,
        kind=f"{source} {f.get('rule_id')} {f.get('rule_name', '')}".strip(),
        step=step,
        text=f"{step}: [{f.get('rule_id')}] {f.get('message', '')}",
        severity="error" if f.get("severity") == "error" else str(f.get("severity")),
    )


def _gate(ivr: Ivr, report: Mapping[str, Any]) -> list[Finding]:
    out = []
    for part in report.get("parts", []):
        details = part.get("details") or {}
        name = part.get("name", "")
        if name == "lint":
            out += [_lint(ivr, f, "gate") for f in details.get("findings", [])]
        elif name == "consumer":
            for f in details.get("findings", []):
                if f.get("severity") == "note":
                    continue
                step = f"{f.get('flow_id', '')}/{f.get('step_id', '')}"
                out.append(Finding(
                    source="gate", kind=f"gate consumer {f.get('check')}: "
                    f"{_generic(ivr, str(f.get('message', '')))}", step=step,
                    text=f"{step}: [{f.get('check')}] {f.get('message', '')}",
                    severity=str(f.get("severity", "error")),
                ))  # fmt: skip
        elif part.get("status") in ("failed", "error"):
            for problem in part.get("problems", []) or [part.get("summary", "")]:
                out.append(
                    Finding(
                        source="gate",
                        kind=f"gate {name} {part.get('status')}: {_generic(ivr, problem)}",
                        step="",
                        text=problem,
                    )
                )
    return out


def _suite(ivr: Ivr, report: Mapping[str, Any]) -> list[Finding]:
    out = []
    for run_ in report.get("runs", []):
        scenario = str(run_.get("scenario", ""))
        step, cls = _battery_step(ivr, scenario)
        if run_.get("verdict") == "error":
            text = f"{run_.get('id')}: {run_.get('error', '')}"
            out.append(Finding(source="battery", kind=f"battery {cls} error: "
                               f"{_generic(ivr, str(run_.get('error', '')))}", step=step,
                               text=text, run=str(run_.get("id", ""))))  # fmt: skip
            continue
        for check in run_.get("checks", []):
            if check.get("passed"):
                continue
            severity = "inconclusive" if check.get("inconclusive") else "error"
            if run_.get("verdict") == "expected_failure":
                severity = "known"
            title, actual = str(check.get("title", "")), str(check.get("actual", ""))
            kind = f"battery {cls}: {_generic(ivr, title)} -- {_generic(ivr, actual)}"
            out.append(Finding(source="battery", kind=kind, step=step, severity=severity,
                               text=f"{run_.get('id')}: {title}: expected "
                               f"{check.get('expected')}, got {actual}",
                               run=str(run_.get("id", ""))))  # fmt: skip
    return out


def _battery_step(ivr: Ivr, scenario: str) -> tuple[str, str]:
    """(flow/step, class) of a battery scenario name `battery-FLOW-STEP-CLASS`."""
    for step in ivr.http_steps:
        prefix = f"battery-{step.flow_id}-{step.step_id}-"
        if scenario.startswith(prefix):
            return f"{step.flow_id}/{step.step_id}", scenario[len(prefix) :]
    return "", scenario


def _battery_class(ivr: Ivr, kind: str) -> str:
    # "battery 202: ..." -> 202; "battery drift-status error: ..." -> drift-status
    return kind.split(":", 1)[0].removeprefix("battery ").removesuffix(" error")


_NUMBER = re.compile(r"\d+(\.\d+)?")


def _generic(ivr: Ivr, text: str) -> str:
    """The text with this IVR's names and every number taken out, for grouping causes."""
    names = {s.step_id for s in ivr.http_steps} | {s.router_id for s in ivr.http_steps}
    names |= {s.success_target for s in ivr.http_steps} | {s.flow_id for s in ivr.http_steps}
    names |= {s.fallback for s in ivr.http_steps} | set(ivr.specs)
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "<id>")
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = _NUMBER.sub("N", text)
    return " ".join(text.split())[:160]
