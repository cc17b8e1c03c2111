"""report.html: one self-contained page a person can open from disk, offline.

No scripts, no fonts, no external anything: the CSS is inline, the pictures are
inline SVG (see :mod:`harness.report.svg`), and `<details>` gives collapsing
without JavaScript. Built with the standard library's :func:`html.escape` and
small string builders rather than a template engine, to keep dependencies down;
every string that came from a run is escaped on the way in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape as _escape

from harness.flow.profile import CXONE, PlatformProfile
from harness.report.svg import breaker_svg, timeline_svg, windows_svg
from harness.scenario.expectations import Check
from harness.scenario.runner import RunResult, SuiteResult

__all__ = ["VERDICT_LABELS", "badge", "esc", "page", "render_html", "run_anchor", "table"]


# Control characters are not allowed in HTML text; they come from hostile input only.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def esc(text: str) -> str:
    return _escape(_CONTROL.sub("", text))


VERDICT_LABELS = {
    "pass": "pass",
    "fail": "FAIL",
    "expected_failure": "known defect",
    "unexpected_pass": "unexpected pass",
    "inconclusive": "inconclusive (overloaded)",
    "error": "error",
}

_CSS = """
:root { --ok:#2e7d32; --bad:#c62828; --known:#b26a00; --surprise:#6a1b9a; --err:#37474f;
  --ink:#1c2330; --mute:#5f6b7a; --line:#dde2ea; --bg:#f6f8fb; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 0; }
h3 { font-size: 14px; margin: 18px 0 6px; color: var(--mute); text-transform: uppercase;
  letter-spacing: .04em; }
a { color: #1f5fbf; text-decoration: none; } a:hover { text-decoration: underline; }
.meta { color: var(--mute); margin: 0 0 16px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:16px 18px;
  margin: 16px 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-size: 12px; color: var(--mute); font-weight: 600; background: #fafbfd; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12.5px; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px;
  font-weight:600; color:#fff; white-space: nowrap; }
.v-pass { background: var(--ok); } .v-fail { background: var(--bad); }
.v-expected_failure { background: var(--known); }
.v-unexpected_pass { background: var(--surprise); }
.v-error { background: var(--err); }
.v-inconclusive { background: #8d6e00; }
.counts span { margin-right: 14px; }
.head { display:flex; align-items:center; gap:12px; flex-wrap: wrap; }
.desc { color: var(--mute); margin: 6px 0 0; }
.error { background:#fdecea; border-left:4px solid var(--bad); padding:8px 12px;
  white-space: pre-wrap; }
.known { color: var(--known); font-weight: 600; font-size: 12px; }
.failed td:first-child { border-left: 3px solid var(--bad); }
.failed.kd td:first-child { border-left-color: var(--known); }
.legend { display:flex; flex-wrap:wrap; gap: 6px 16px; font-size:12px; color:var(--mute);
  margin: 4px 0 8px; }
.legend i { display:inline-block; width:14px; height:10px; margin-right:5px;
  vertical-align:-1px; border-radius:2px; }
svg.chart { width: 100%; height: auto; display: block; font-size: 11px; }
svg .lbl { fill: var(--ink); font-size: 12px; } svg .small { font-size: 11px; fill: var(--mute); }
svg .strong { font-weight: 600; } svg .bad { fill: var(--bad); }
svg .tick { fill: var(--mute); font-size: 10.5px; }
svg .grid { stroke: #e9edf3; } svg .axis { stroke: #9aa5b4; } svg .lvl { stroke: #eef1f5; }
svg .row0 { fill: #fff; } svg .row1 { fill: #f7f9fc; }
svg .seg, svg .att { stroke: #fff; stroke-width: .5; }
svg .att-lbl { fill: #fff; font-size: 9px; }
svg .token-mark, svg .skip { stroke: #fff; }
svg .fault { fill: #fff3e0; } svg .state { fill: none; stroke: #37474f; stroke-width: 2; }
svg .move { fill: #37474f; stroke: #fff; stroke-width: 1.5; }
svg .state-open { fill: var(--bad); } svg .state-half_open { fill: var(--known); }
svg .state-closed { fill: var(--ok); }
svg .win-ok { fill: #81c784; } svg .win-over { fill: #e57373; }
svg .alert { stroke: var(--bad); stroke-dasharray: 6 4; stroke-width: 1.5; }
svg .series { fill: none; stroke-width: 1.8; } svg .s0 { stroke: #1e88e5; }
svg .s1 { stroke: #fb8c00; } svg .s2 { stroke: #8e24aa; } svg .limit { stroke: var(--mute);
  stroke-dasharray: 4 4; }
.legend .s0 { background: #1e88e5; } .legend .s1 { background: #fb8c00; }
.legend .s2 { background: #8e24aa; }
svg .alert-lbl { fill: var(--bad); }
details > summary { cursor: pointer; color: #1f5fbf; margin: 8px 0; }
.note { color: var(--mute); font-size: 13px; }
"""

# One palette for the SVG marks and the legend swatches that explain them.
_PALETTE = {
    "seg-audio": "#1e88e5",
    "seg-input": "#8e24aa",
    "seg-silence": "#f2b8b5",
    "att-success": "#43a047",
    "att-accepted": "#00897b",
    "att-http_error": "#fb8c00",
    "att-timeout": "#b71c1c",
    "att-connection_error": "#5e35b1",
    "att-dns_error": "#5e35b1",
    "att-auth_error": "#d81b60",
    "att-too_large": "#6d4c41",
    "att-circuit_open": "#78909c",
    "att-other": "#78909c",
    "backoff": "#fdd835",
    "queued": "#b0bec5",
    "token": "#00acc1",
    "token-mark": "#00acc1",
    "skip": "#263238",
}
_CSS += "".join(
    f"svg .{c} {{ fill: {v}; }} .legend .{c} {{ background: {v}; }}\n" for c, v in _PALETTE.items()
)

_LEGEND = (
    ("seg-audio", "caller hears audio"),
    ("seg-input", "caller input (DTMF)"),
    ("seg-silence", "silence (dead air)"),
    ("att-success", "HTTP attempt: success"),
    ("att-http_error", "HTTP error status"),
    ("att-timeout", "timeout"),
    ("att-connection_error", "connection / DNS error"),
    ("backoff", "backoff wait"),
    ("queued", "queued for a slot"),
    ("token", "inline token fetch ◆"),
    ("skip", "circuit open: skipped ◆"),
)


def run_anchor(run: RunResult, index: int) -> str:
    """A stable, unique fragment id for a run's section."""
    return f"run-{index}-" + re.sub(r"[^A-Za-z0-9_-]+", "-", run.id).strip("-")


def badge(verdict: str) -> str:
    label = VERDICT_LABELS.get(verdict, verdict)
    return f'<span class="badge v-{esc(verdict)}">{esc(label)}</span>'


def table(head: Sequence[str], rows: Iterable[str], num: Sequence[int] = ()) -> str:
    cells = "".join(
        f'<th class="num">{esc(h)}</th>' if i in num else f"<th>{esc(h)}</th>"
        for i, h in enumerate(head)
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _header(suite: SuiteResult) -> str:
    counts = {v: sum(1 for r in suite.runs if r.verdict == v) for v in VERDICT_LABELS}
    shown = "".join(f"<span>{badge(v)} {n}</span>" for v, n in counts.items() if n)
    return (
        f'<div class="head"><h1>ivr-harness suite</h1>{badge(suite.verdict)}</div>'
        f'<p class="meta">run <code>{esc(suite.run_id)}</code> · started '
        f"{esc(suite.started_at)} · wall time {suite.wall_ms / 1000:,.1f} s · "
        f"{len(suite.runs)} runs · toxiproxy {esc(suite.toxiproxy)}</p>"
        f'<div class="counts">{shown}</div>'
    )


def _summary(suite: SuiteResult) -> str:
    rows = []
    for i, run in enumerate(suite.runs):
        failed = len(run.failures())
        silence = max((c.max_dead_air_ms for c in run.calls), default=0.0)
        rows.append(
            f'<tr><td><a href="#{run_anchor(run, i)}">{esc(run.scenario.name)}</a></td>'
            f"<td>{esc(run.flow_set)}</td><td>{badge(run.verdict)}</td>"
            f'<td class="num">{len(run.checks) - failed}</td><td class="num">{failed}</td>'
            f'<td class="num">{len(run.calls)}</td>'
            f'<td class="num">{silence:,.0f} ms</td>'
            f'<td class="num">{run.wall_ms / 1000:,.2f} s</td></tr>'
        )
    head = (
        "scenario", "flow set", "verdict", "checks passed", "failed", "calls",
        "longest silence", "wall time",
    )  # fmt: skip
    return f'<section class="card"><h2>Summary</h2>{table(head, rows, (3, 4, 5, 6, 7))}</section>'


def _attention(suite: SuiteResult) -> str:
    items = []
    for i, run in enumerate(suite.runs):
        if run.ok:
            continue
        if run.verdict == "unexpected_pass":
            why = "known defect no longer detected: " + "; ".join(run.cleared_defects())
        elif run.error:
            why = run.error
        else:
            why = "; ".join(c.title for c in run.failures() if not c.known_defect)
        items.append(
            f'<li>{badge(run.verdict)} <a href="#{run_anchor(run, i)}">{esc(run.id)}</a>'
            f" — {esc(why)}</li>"
        )
    if not items:
        return ""
    return f'<section class="card"><h2>Needs attention</h2><ul>{"".join(items)}</ul></section>'


def _check_rows(checks: Sequence[Check]) -> list[str]:
    rows = []
    for c in checks:
        cls = "failed" + (" kd" if c.known_defect else "") if not c.passed else ""
        tag = ' <span class="known">known defect</span>' if c.known_defect else ""
        mark = "✓" if c.passed else "✗"
        rows.append(
            f'<tr class="{cls}"><td>{mark} {esc(c.title)}{tag}</td>'
            f'<td class="mono">{esc(c.expected)}</td>'
            f'<td class="mono">{esc(c.actual)}</td></tr>'
        )
    return rows


def _checks(run: RunResult) -> str:
    failed = run.failures()
    head = ("check", "expected", "actual")
    parts = []
    if run.verdict == "unexpected_pass":
        cleared = "; ".join(run.cleared_defects())
        parts.append(f'<p class="error">known defect no longer detected: {esc(cleared)}</p>')
    if failed:
        parts.append(f"<h3>Failed checks</h3>{table(head, _check_rows(failed))}")
    if run.checks:
        parts.append(
            f"<details><summary>all {len(run.checks)} checks</summary>"
            f"{table(head, _check_rows(run.checks))}</details>"
        )
    return "".join(parts)


def _legend() -> str:
    items = "".join(f'<span><i class="{cls}"></i>{esc(text)}</span>' for cls, text in _LEGEND)
    return f'<div class="legend">{items}</div>'


def _calls_table(run: RunResult) -> str:
    rows = [
        f"<tr><td>{esc(c.call_id)}</td><td>{esc(c.outcome)}</td>"
        f"<td>{esc(c.terminal_step)}</td><td>{esc(c.reason)}</td>"
        f'<td class="num">{c.duration_ms:,.0f}</td><td class="num">{c.dead_air_ms:,.0f}</td>'
        f'<td class="num">{c.max_dead_air_ms:,.0f}</td></tr>'
        for c in run.calls
    ]
    head = ("call", "outcome", "ended at", "reason", "ms", "dead air ms", "longest silence ms")
    return f"<details><summary>calls</summary>{table(head, rows, (4, 5, 6))}</details>"


def _timeline(run: RunResult) -> str:
    more = len(run.calls) - 40
    note = f'<p class="note">{more} more calls not drawn; see results.json.</p>' if more > 0 else ""
    svg = timeline_svg(run.calls, run.events, max_rows=40)
    calls = _calls_table(run) if run.calls else ""
    return f"<h3>Call timelines</h3>{_legend()}{svg}{note}{calls}"


def _run_span(run: RunResult) -> float:
    ends = [c.end_ms for c in run.calls] + [e.t_ms for e in run.events]
    return max(ends, default=1.0)


def _breakers(run: RunResult) -> str:
    history = run.breakers
    if not history:
        return '<h3>Circuit breakers</h3><p class="note">No breaker transitions in this run.</p>'
    span = _run_span(run)
    charts = "".join(breaker_svg(k, m, span, run.faults) for k, m in history.items())
    return f"<h3>Circuit breakers (state over time, faults shaded)</h3>{charts}"


def _windows(run: RunResult, profile: PlatformProfile) -> str:
    windows = run.error_windows
    if not windows:
        return ""
    svg = windows_svg(windows, profile.alert_error_rate, profile.alert_window_ms)
    alert = "alert fired" if run.alert else "alert quiet"
    return f"<h3>Error-rate windows ({alert})</h3>{svg}"


def _faults(run: RunResult) -> str:
    if not run.faults:
        return ""
    items = "".join(
        f"<li>{esc(str(f.get('kind', '')).replace('_', ' '))} "
        f"<b>{esc(str(f.get('label', '')))}</b> "
        + (
            f"by {int(f.get('attempts', 0))} attempts of {esc(str(f.get('step', '')))}</li>"
            if f.get("kind") == "fault_felt"
            else f"at {float(f.get('t_ms', 0)):,.0f} ms</li>"
        )
        for f in run.faults
    )
    return f"<h3>Faults</h3><ul>{items}</ul>"


def _run(run: RunResult, index: int, profile: PlatformProfile) -> str:
    desc = run.scenario.description.strip()
    error = f'<p class="error">{esc(run.error)}</p>' if run.error else ""
    return (
        f'<section class="card" id="{run_anchor(run, index)}">'
        f'<div class="head"><h2>{esc(run.id)}</h2>{badge(run.verdict)}'
        f'<span class="note">{run.wall_ms / 1000:,.2f} s · {len(run.calls)} calls</span></div>'
        + (f'<p class="desc">{esc(desc)}</p>' if desc else "")
        + error
        + _checks(run)
        + _faults(run)
        + _timeline(run)
        + _breakers(run)
        + _windows(run, profile)
        + "</section>"
    )


def page(title: str, body: str) -> str:
    """One self-contained page: the report's CSS inline, `body` (already escaped) in <main>."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def render_html(suite: SuiteResult, profile: PlatformProfile = CXONE) -> str:
    """The whole suite as one self-contained HTML page."""
    runs = "".join(_run(r, i, profile) for i, r in enumerate(suite.runs))
    title = f"ivr-harness {suite.verdict}: {suite.run_id}"
    return page(title, f"{_header(suite)}{_attention(suite)}{_summary(suite)}{runs}")
