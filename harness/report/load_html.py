"""report.html of a load run: one flow set, or several side by side under the same load.

The guide's trap reads best as a comparison: the same arrivals and the same DNS
stall through a flow set with the 30 s default timeout and through one with 5 s
and a breaker. Each flow set gets a column of the summary (dropped calls, dead
air percentiles, fallback rate, the wait for a slot, each integration step's
p95, the harness's own lag) and a chart of busy slots and queued callers per
second. Same page style as the suite's report (`report/html.py`): one file, no
scripts, everything escaped on the way in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.report.html import badge, esc, page, table
from harness.report.svg import levels_svg
from harness.scenario.expectations import Check
from harness.scenario.loadplan import LoadPlan
from harness.scenario.model import Scenario
from harness.scenario.shards import LoadReport

__all__ = ["LoadEntry", "check_mark", "render_load_html"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadEntry:
    """One flow set's part of a load run."""

    flow_set: str
    report: LoadReport
    verdict: str


def _plan(plan: LoadPlan) -> str:
    rate = f"{plan.rate:g}/s {plan.arrival}" if plan.rate else "all at once"
    parts = [
        f"arrivals {rate}" + (f", ramp {plan.ramp_s:g} s" if plan.ramp_s else ""),
        f"for {plan.duration_s:g} s" if plan.duration_s else "",
        f"at most {plan.max_calls:,} callers" if plan.max_calls is not None else "",
        f"{plan.slots:,} flow slots",
        "no patience limit" if plan.patience_ms is None else f"patience {plan.patience_ms:,} ms",
        f"seed {plan.seed}",
    ]
    return " · ".join(p for p in parts if p)


def _rows(entries: Sequence[LoadEntry]) -> list[str]:
    stats = [e.report.stats for e in entries]
    harness = [e.report.harness() for e in entries]
    steps = sorted({step for s in stats for step in s.step_p95_ms})

    def row(label: str, values: Sequence[str]) -> str:
        cells = "".join(f'<td class="num">{esc(v)}</td>' for v in values)
        return f"<tr><td>{esc(label)}</td>{cells}</tr>"

    def ms(value: float) -> str:
        return f"{value:,.0f} ms"

    waits = [s.histograms.queue_wait.percentile(95) if s.histograms else 0.0 for s in stats]
    return [
        f"<tr><td>verdict</td>{''.join(f'<td class=num>{badge(e.verdict)}</td>' for e in entries)}"
        "</tr>",
        row("calls", [f"{s.calls:,}" for s in stats]),
        row("dropped (no slot in time)", [f"{s.dropped:,}" for s in stats]),
        row("fallback rate", [f"{s.fallback_rate:.0%}" for s in stats]),
        row("dead air p50", [ms(s.dead_air_p50_ms) for s in stats]),
        row("dead air p95", [ms(s.dead_air_p95_ms) for s in stats]),
        row("dead air p99", [ms(s.dead_air_p99_ms) for s in stats]),
        row("wait for a slot p95", [ms(w) for w in waits]),
        *(row(f"{step} p95", [ms(s.step_p95_ms.get(step, 0.0)) for s in stats]) for step in steps),
        row(
            "peak busy slots / queued",
            [
                f"{s.histograms.busy_slots.peak:,} / {s.histograms.queued.peak:,}"
                if s.histograms
                else "-"
                for s in stats
            ],
        ),
        row(
            "harness loop lag p99",
            [
                f"{h['loop_lag_ms'].get('p99', 0):,.0f} ms"
                + (" SATURATED" if h["saturated"] else "")
                for h in harness
            ],
        ),
    ]


def check_mark(check: Check) -> str:
    """How a load run's expectation came out: held, known defect or FAILED."""
    return "held" if check.passed else ("known defect" if check.known_defect else "FAILED")


def _checks(checks: Sequence[Check]) -> str:
    if not checks:
        return ""
    rows = [
        f"<tr><td>{esc(check_mark(c))}</td><td>{esc(c.title)}</td><td>{esc(c.actual)}</td></tr>"
        for c in checks
    ]
    return table(("", "expectation", "what happened"), rows)


def _seconds(entry: LoadEntry) -> int:
    h = entry.report.stats.histograms
    return 0 if h is None else max(len(h.busy_slots.series()), len(h.queued.series()))


def _entry(entry: LoadEntry, slots: int, seconds: int) -> str:
    h = entry.report.stats.histograms
    chart = (
        levels_svg(
            f"{entry.flow_set}: busy slots and queued callers per second",
            {"busy slots": h.busy_slots.series(), "queued callers": h.queued.series()},
            limit=slots,
            seconds=seconds,
        )
        if h is not None
        else ""
    )
    lost = "".join(
        f'<p class="error">lost shard {k}: {esc(why)}</p>'
        for k, why in sorted(entry.report.lost.items())
    )
    legend = (
        '<div class="legend"><span><i class="s0"></i>busy slots</span>'
        '<span><i class="s1"></i>queued callers</span><span>dashed: the slots</span></div>'
    )
    return (
        f'<section class="card"><div class="head"><h2>{esc(entry.flow_set)}</h2>'
        f"{badge(entry.verdict)}</div>{lost}{legend}{chart}{_checks(entry.report.checks)}"
        "</section>"
    )


def render_load_html(
    run_id: str, scenario: Scenario, plan: LoadPlan, verdict: str, entries: Sequence[LoadEntry]
) -> str:
    """The load run as one self-contained page, its flow sets side by side."""
    head = ("", *(e.flow_set for e in entries))
    summary = table(head, _rows(entries), tuple(range(1, len(head))))
    desc = scenario.description.strip()
    body = (
        f'<div class="head"><h1>ivr-harness load: {esc(scenario.name)}</h1>{badge(verdict)}</div>'
        f'<p class="meta">run <code>{esc(run_id)}</code> · {esc(_plan(plan))}</p>'
        + (f'<p class="desc">{esc(desc)}</p>' if desc else "")
        + f'<section class="card"><h2>Side by side</h2>{summary}</section>'
        + "".join(_entry(e, plan.slots, max(map(_seconds, entries))) for e in entries)
    )
    return page(f"ivr-harness load {verdict}: {run_id}", body)
