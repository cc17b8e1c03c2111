"""What `pull`, `deploy` and `drift` leave behind in ``reports/<run-id>/``.

Each writes ``results.json`` (schemas ``ivr-harness/pull/v1``, ``ivr-harness/deploy/v1``,
``ivr-harness/drift/v1``, documented in docs/deploy.md), ``junit.xml``, a self-contained
``report.html`` and ``events.jsonl`` (every Flow API request, wait, read-back and token
fetch), and appends a Markdown summary to ``$GITHUB_STEP_SUMMARY``. `deploy` also leaves
the gate's own reports in ``gate/`` and the documents it judged in ``release/`` and
``deployed/``. Every document passes through the run's redactor before it is written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.events import EventLog
from harness.platform.drift import DriftReport
from harness.platform.pull import Pulled
from harness.platform.release import Release
from harness.report.files import append_step_summary, atomic_write
from harness.report.html import badge, esc, page, table
from harness.report.junit import Case, Suite, render_junit

__all__ = [
    "deploy_results",
    "drift_results",
    "pull_results",
    "write_deploy_reports",
    "write_drift_reports",
    "write_pull_reports",
]

_VERDICT = {
    "deployed": "pass",
    "unchanged": "pass",
    "dry-run": "pass",
    "held": "pass",
    "refused": "fail",
    "conflict": "fail",
    "drift": "fail",
    "failed": "error",
    "interrupted": "error",
}


def _write(
    out: Path, results: dict[str, Any], suites: Sequence[Suite], html: str, events: EventLog
) -> Path:
    clean = events.redactor(results)
    title = f"ivr-harness {results['command']} {results['run_id']}"
    documents = {
        "results.json": json.dumps(clean, indent=2, sort_keys=True, default=str) + "\n",
        "junit.xml": events.redactor(render_junit(suites, name=title)),
        "report.html": events.redactor(page(title, html)),
    }
    for name, text in documents.items():
        atomic_write(out / name, text)
    events.write_jsonl(out / "events.jsonl")
    append_step_summary(events.redactor(_markdown(clean, out)))
    return out


def _markdown(results: dict[str, Any], out: Path) -> str:
    lines = [f"## ivr-harness {results['command']}: {results['status'].upper()}", ""]
    lines += [f"- {line}" for line in results.get("lines", [])[:30]]
    return "\n".join([*lines, "", f"Reports: `{out}`", ""])


def _head(command: str, status: str, run_id: str, summary: str) -> str:
    verdict = _VERDICT.get(status, "error")
    return (
        f'<div class="head"><h1>ivr-harness {esc(command)}</h1>{badge(verdict)}</div>'
        f'<p class="meta">run {esc(run_id)} · {esc(status)}</p><p>{esc(summary)}</p>'
    )


def _card(title: str, body: str) -> str:
    return f'<section class="card"><h2>{esc(title)}</h2>{body}</section>'


def _lines(lines: Sequence[str]) -> str:
    if not lines:
        return '<p class="note">none</p>'
    return "<pre class='mono'>" + esc("\n".join(lines)) + "</pre>"


# -- pull --------------------------------------------------------------------------


def pull_results(pulled: Pulled, *, run_id: str, api_url: str, dest: Path) -> dict[str, Any]:
    changed = set(pulled.changed)
    flows = [
        {
            "id": flow_id,
            "version": deployed.version,
            "file": str(pulled.paths[flow_id]),
            "changed": pulled.paths[flow_id] in changed,
        }
        for flow_id, deployed in sorted(pulled.flows.items())
    ]
    return {
        "schema": "ivr-harness/pull/v1",
        "command": "pull",
        "run_id": run_id,
        "status": "held",
        "exit_code": 0,
        "api_url": api_url,
        "dest": str(dest),
        "flows": flows,
        "lines": [f"{f['id']} version {f['version']} -> {f['file']}" for f in flows],
    }


def write_pull_reports(results: dict[str, Any], out: Path, events: EventLog) -> Path:
    cases = [
        Case(name=f["id"], classname="pull", output=f"version {f['version']} -> {f['file']}")
        for f in results["flows"]
    ]
    rows = [
        f"<tr><td>{esc(f['id'])}</td><td class='num'>{f['version']}</td>"
        f"<td><code>{esc(f['file'])}</code></td>"
        f"<td>{'written' if f['changed'] else 'same'}</td></tr>"
        for f in results["flows"]
    ]
    html = _head("pull", "held", results["run_id"], f"{len(rows)} flows into {results['dest']}")
    html += _card("Flows", table(["flow", "version", "file", "bytes"], rows, num=[1]))
    return _write(out, results, [Suite(name="pull", cases=cases)], html, events)


# -- deploy ------------------------------------------------------------------------


def _flow_result(release: Release, flow_id: str, action: str) -> str:
    if flow_id in release.rollback:
        return f"rolled back: {release.rollback[flow_id]}"
    if flow_id in release.written:
        return "deployed"
    if action == "unchanged":
        return "unchanged"
    return "would be written" if release.status == "dry-run" else "not written"


def deploy_results(release: Release, *, run_id: str, api_url: str) -> dict[str, Any]:
    flows = [
        {
            "id": p.flow_id,
            "action": p.action,
            "from_version": p.from_version,
            "to_version": p.to_version,
            "result": _flow_result(release, p.flow_id, p.action),
        }
        for p in release.plan
    ]
    gate = release.gate
    diff = release.diff
    lines = list(release.problems)
    lines += [
        f"{f['id']}: {f['action']} {f['from_version']} -> {f['to_version']}: {f['result']}"
        for f in flows
    ]
    lines += release.conflict + ([release.error] if release.error else [])
    return {
        "schema": "ivr-harness/deploy/v1",
        "command": "deploy",
        "run_id": run_id,
        "status": release.status,
        "exit_code": release.exit_code,
        "api_url": api_url,
        "dry_run": release.options.dry_run,
        "error": release.error,
        "interrupted_by": release.interrupted_by,
        "dependencies": release.problems,
        "gate": None
        if gate is None
        else {
            "verdict": gate.verdict,
            "parts": [
                {"name": p.name, "status": p.status, "summary": p.summary} for p in gate.parts
            ],
        },
        "diff": None if diff is None else diff.to_json(),
        "diff_lines": [] if diff is None else diff.lines(),
        "flows": flows,
        "conflict": release.conflict,
        "rollback": [{"id": k, "result": v} for k, v in release.rollback.items()],
        "rollback_complete": release.rollback_complete,
        "lines": lines,
    }


def write_deploy_reports(
    release: Release, results: dict[str, Any], out: Path, events: EventLog
) -> Path:
    cases = [
        Case(
            name="step dependencies",
            classname="deploy",
            failure="\n".join(release.problems) or None,
        )
    ]
    if release.gate is not None:
        gate = release.gate
        problems = [f"{p.name}: {x}" for p in gate.parts for x in p.problems]
        failed = gate.verdict != "passed"
        cases.append(
            Case(
                name="gate",
                classname="deploy",
                failure="\n".join(problems) or gate.verdict if failed else None,
                output="details: gate/junit.xml",
            )
        )
    for flow in results["flows"]:
        broken = flow["result"].startswith(("rolled back", "not written")) and (
            release.status not in ("dry-run", "deployed", "unchanged")
        )
        cases.append(
            Case(
                name=f"{flow['id']} {flow['action']}",
                classname="deploy.flows",
                failure=f"{flow['result']}\n{release.error}" if broken else None,
                output=flow["result"],
            )
        )
    rows = [
        f"<tr><td>{esc(f['id'])}</td><td>{esc(f['action'])}</td>"
        f"<td class='num'>{esc(str(f['from_version'] or '-'))} → {f['to_version']}</td>"
        f"<td>{esc(f['result'])}</td></tr>"
        for f in results["flows"]
    ]
    html = _head("deploy", release.status, results["run_id"], release.error or release.status)
    if release.problems:
        html += _card("Step dependencies", _lines(release.problems))
    if release.gate is not None:
        parts = [
            f"<tr><td>{esc(p['name'])}</td><td>{esc(p['status'])}</td><td>{esc(p['summary'])}</td></tr>"
            for p in results["gate"]["parts"]
        ]
        html += _card("Gate", table(["part", "status", "summary"], parts))
    html += _card("Behaviour against what is deployed", _lines(results["diff_lines"]))
    html += _card("Flows, in release order", table(["flow", "action", "version", "result"], rows))
    if release.conflict:
        html += _card("Version conflict", _lines(release.conflict))
    if release.rollback:
        html += _card("Rollback", _lines([f"{k}: {v}" for k, v in release.rollback.items()]))
    return _write(out, results, [Suite(name="deploy", cases=cases)], html, events)


# -- drift -------------------------------------------------------------------------


def drift_results(report: DriftReport, *, run_id: str, api_url: str, flows: Path) -> dict[str, Any]:
    return {
        "schema": "ivr-harness/drift/v1",
        "command": "drift",
        "run_id": run_id,
        "status": "drift" if report.drifted else "held",
        "exit_code": report.exit_code,
        "api_url": api_url,
        "repository": str(flows),
        "flows": [
            {"id": k, "deployed_version": report.versions.get(k), "missing": k in report.missing}
            for k in report.flows
        ],
        "missing": list(report.missing),
        "diff": None if report.diff is None else report.diff.to_json(),
        "text_only": {k: list(v) for k, v in report.text_only.items()},
        "lines": report.lines()
        + [f"text only: {k}: {', '.join(v)}" for k, v in report.text_only.items()],
    }


def write_drift_reports(
    report: DriftReport, results: dict[str, Any], out: Path, events: EventLog
) -> Path:
    changes = report.diff.changes if report.diff is not None else ()
    cases = []
    for flow_id in report.flows:
        lines = [c.text for c in changes if c.flow_id == flow_id]
        lines += ["not deployed"] if flow_id in report.missing else []
        text = report.text_only.get(flow_id)
        cases.append(
            Case(
                name=flow_id,
                classname="drift",
                failure="\n".join(lines) or None,
                output=f"text only: {', '.join(text)}" if text else "",
            )
        )
    html = _head(
        "drift",
        results["status"],
        results["run_id"],
        f"{results['repository']} against {results['api_url']}",
    )
    html += _card("Behaviour the tenant runs differently", _lines(report.lines()))
    html += _card(
        "Text-only differences",
        _lines([f"{k}: {', '.join(v)}" for k, v in report.text_only.items()]),
    )
    return _write(out, results, [Suite(name="drift", cases=cases)], html, events)
