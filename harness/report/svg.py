"""Inline SVG pictures for report.html: call timelines, breaker state, error-rate windows,
and a load run's levels over time.

Plain strings, no plotting library: the report must be one file that opens from
disk with no network, and these three charts are simple enough to draw by hand.
Colours live in the page's CSS (classes here), so the charts follow one palette.
Every text that came from a run goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from html import escape as _escape
from typing import Any

from harness.events import Event
from harness.executor.timeline import CallResult, Segment
from harness.scenario.facts import BreakerMove

__all__ = ["breaker_svg", "levels_svg", "timeline_svg", "windows_svg"]


# Control characters are not allowed in HTML text; they come from hostile input only.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _esc(text: str) -> str:
    return _escape(_CONTROL.sub("", text))


WIDTH = 1180  # viewBox width; the page scales it to the container
GUTTER = 250  # left column for row labels
PAD = 18
PLOT = WIDTH - GUTTER - PAD
ROW = 36
AXIS = 24
_STATES = {"open": 0, "half_open": 1, "closed": 2}


def _x(t_ms: float, span_ms: float) -> float:
    return GUTTER + max(0.0, min(t_ms, span_ms)) / span_ms * PLOT


def _cls(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "", text.lower()) or "other"


def _title(text: str) -> str:
    return f"<title>{_esc(text)}</title>"


def _rect(x: float, y: float, w: float, h: float, cls: str, tip: str, min_w: float = 1.0) -> str:
    return (
        f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{max(w, min_w):.1f}" '
        f'height="{h:.1f}">{_title(tip)}</rect>'
    )


def _text(x: float, y: float, text: str, cls: str = "lbl", anchor: str = "start") -> str:
    return f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{_esc(text)}</text>'


def _line(x1: float, y1: float, x2: float, y2: float, cls: str) -> str:
    return f'<line class="{cls}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>'


def nice_ticks(span_ms: float, target: int = 8) -> list[float]:
    """Round tick positions (1, 2 or 5 x 10^n ms) covering 0..span_ms."""
    raw = max(span_ms, 1e-6) / target
    base = 10 ** math.floor(math.log10(raw))
    step = next(m * base for m in (1, 2, 5, 10) if m * base >= raw)
    return [i * step for i in range(int(span_ms // step) + 1)]


def nice_span(span_ms: float) -> float:
    """The span rounded up to the next tick, so the axis ends on a labelled value."""
    ticks = nice_ticks(span_ms)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else max(span_ms, 1.0)
    return max(step, math.ceil(max(span_ms, 1e-6) / step) * step)


def _fmt_ms(ms: float) -> str:
    if ms >= 10_000:
        return f"{ms / 1000:,.0f} s"
    if ms >= 1000:
        return f"{ms / 1000:,.1f} s".replace(".0 s", " s")
    return f"{ms:,.0f}" if ms >= 10 or ms == 0 else f"{ms:.1f}"


def _axis(span_ms: float, top: float, bottom: float, unit: str) -> str:
    parts = []
    for tick in nice_ticks(span_ms):
        x = _x(tick, span_ms)
        parts.append(_line(x, top, x, bottom, "grid"))
        parts.append(_text(x, top - 6, _fmt_ms(tick), "tick", "middle"))
    parts.append(_text(GUTTER - 8, top - 6, unit, "tick", "end"))
    return "".join(parts)


def _svg(height: float, body: str, label: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
        f'aria-label="{_esc(label)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


# -- call timelines ---------------------------------------------------------------------------


def _segment(seg: Segment, t0: float, span: float, y: float) -> str:
    x1, x2 = _x(seg.start_ms - t0, span), _x(seg.end_ms - t0, span)
    if seg.audio:
        kind, min_w = "audio", 2.0  # instant audio has ~0 ms; keep it visible
    elif seg.caller_input:
        kind, min_w = "input", 2.0
    else:
        kind, min_w = "silence", 0.0
    detail = ", ".join(f"{k}={v}" for k, v in seg.detail.items() if k != "next")
    tip = f"{seg.step_id} ({seg.step_type}) {seg.duration_ms:,.1f} ms, {kind}"
    tip += f"\n{detail}" if detail else ""
    if x2 - x1 < min_w and min_w == 0.0:
        return ""
    return _rect(x1, y, x2 - x1, 12, f"seg seg-{kind}", tip, min_w)


def _attempts(events: Sequence[Event], t0: float, span: float, y: float) -> list[str]:
    out: list[str] = []
    started: dict[tuple[str, Any], float] = {}
    for e in events:
        t = e.t_ms - t0
        if e.kind == "attempt_start":
            started[(e.step_id, e.data.get("attempt"))] = t
        elif e.kind == "attempt_end":
            begin = started.pop(
                (e.step_id, e.data.get("attempt")), t - float(e.data.get("elapsed_ms", 0))
            )
            out.append(_attempt(e, begin, t, span, y))
        elif e.kind == "backoff":
            wait = float(e.data.get("wait_ms", 0))
            out.append(
                _rect(
                    _x(t, span),
                    y,
                    _x(t + wait, span) - _x(t, span),
                    10,
                    "backoff",
                    f"{e.step_id}: backoff wait {wait:,.0f} ms",
                    1.5,
                )
            )
        elif e.kind == "queued" and float(e.data.get("wait_ms", 0)) >= 1:
            wait = float(e.data["wait_ms"])
            out.append(
                _rect(
                    _x(t - wait, span),
                    y,
                    _x(t, span) - _x(t - wait, span),
                    10,
                    "queued",
                    f"{e.step_id}: queued {wait:,.0f} ms for a request slot",
                )
            )
        elif e.kind == "token_fetch" and e.data.get("inline"):
            out.append(_token(e, t, span, y))
        elif e.kind == "circuit_open":
            out.append(
                _marker(_x(t, span), y + 5, "skip", f"{e.step_id}: circuit open, request skipped")
            )
    return out


def _attempt(e: Event, begin: float, end: float, span: float, y: float) -> str:
    outcome = str(e.data.get("outcome", ""))
    status = e.data.get("status") or ""
    code = e.data.get("code") or ""
    tip = f"{e.step_id} attempt {e.data.get('attempt')}: {outcome} {status} {code}".rstrip()
    tip += f" ({float(e.data.get('elapsed_ms', end - begin)):,.0f} ms)"
    x1, x2 = _x(begin, span), _x(end, span)
    parts = [_rect(x1, y, x2 - x1, 10, f"att att-{_cls(outcome)}", tip, 2.0)]
    # The bar names its step whenever it fits: two steps on one host look alike otherwise.
    for label in (f"{e.step_id} {status or outcome}", str(status or outcome)):
        if x2 - x1 >= _LABEL_PX * len(label) + 6:
            parts.append(_text(x1 + 3, y + 8.5, label, "att-lbl"))
            break
    return "".join(parts)


_LABEL_PX = 5.2  # width of a character of the attempt labels' small font


def _token(e: Event, t: float, span: float, y: float) -> str:
    elapsed = float(e.data.get("elapsed_ms", 0))
    error = e.data.get("error") or e.data.get("status")
    tip = f"{e.step_id}: inline token fetch on the caller path, {elapsed:,.0f} ms ({error})"
    x1 = _x(t - elapsed, span)
    bar = _rect(x1, y + 3, _x(t, span) - x1, 4, "token", tip)
    return bar + _marker(x1, y + 5, "token-mark", tip)


def _marker(x: float, cy: float, cls: str, tip: str) -> str:
    # A diamond reads as "a moment", not a span, at any zoom level.
    points = f"{x:.1f},{cy - 6:.1f} {x + 6:.1f},{cy:.1f} {x:.1f},{cy + 6:.1f} {x - 6:.1f},{cy:.1f}"
    return f'<polygon class="{cls}" points="{points}">{_title(tip)}</polygon>'


def _row(call: CallResult, events: Sequence[Event], span: float, y: float, index: int) -> str:
    parts = [f'<rect class="row{index % 2}" x="0" y="{y:.1f}" width="{WIDTH}" height="{ROW}"/>']
    bad = "" if call.outcome.startswith(("transfer", "voicemail", "hangup", "return")) else " bad"
    outcome = call.outcome if len(call.outcome) <= 24 else call.outcome[:23] + "…"
    parts.append(_text(8, y + 15, f"{call.call_id}  +{_fmt_ms(call.start_ms)} ms", "lbl strong"))
    silence = f"{outcome} · {call.max_dead_air_ms:,.0f} ms silent"
    parts.append(_text(8, y + 29, silence, "lbl small" + bad))
    parts.extend(_segment(s, call.start_ms, span, y + 4) for s in call.segments)
    if not call.segments and call.duration_ms > 0:
        # A call that never ran a step (dropped while queued for a flow slot) was still silence.
        tip = f"no step ran: {call.outcome} {call.reason}".strip()
        w = _x(call.duration_ms, span) - GUTTER
        parts.append(_rect(GUTTER, y + 4, w, 12, "seg seg-silence", tip))
    parts.extend(_attempts(events, call.start_ms, span, y + 21))
    return "".join(parts)


def timeline_svg(
    calls: Sequence[CallResult], events: Sequence[Event], *, max_rows: int = 40
) -> str:
    """One row per call, each from its own start: what the caller heard, and the HTTP traffic."""
    shown = list(calls)[:max_rows]
    span = nice_span(max((c.duration_ms for c in shown), default=1.0))
    by_call: dict[str, list[Event]] = {}
    for e in events:
        by_call.setdefault(e.call_id, []).append(e)
    height = AXIS + ROW * max(len(shown), 1) + 4
    rows = [
        _row(c, by_call.get(c.call_id, []), span, AXIS + i * ROW, i) for i, c in enumerate(shown)
    ]
    if not shown:
        rows = [
            _text(GUTTER + PLOT / 2, AXIS + 22, "no call completed in this run", "lbl", "middle")
        ]
    body = _axis(span, AXIS, height - 4, "ms from call start") + "".join(rows)
    return _svg(height, body, f"timeline of {len(shown)} calls")


# -- breaker state over time ------------------------------------------------------------------


def _fault_bands(
    faults: Sequence[Mapping[str, Any]], span: float, top: float, bottom: float
) -> str:
    applied: dict[Any, float] = {}
    parts: list[str] = []
    for f in faults:
        t = float(f.get("t_ms", 0))
        if f.get("kind") == "fault_applied":
            applied[f.get("fault")] = t
        elif f.get("kind") == "fault_removed" and f.get("fault") in applied:
            start = applied.pop(f.get("fault"))
            x1, x2 = _x(start, span), _x(t, span)
            label = str(f.get("label", "fault"))
            parts.append(_rect(x1, top, x2 - x1, bottom - top, "fault", f"fault: {label}"))
            parts.append(_text(x1 + 4, top + 11, label, "tick"))
    return "".join(parts)


def _step_path(moves: Sequence[BreakerMove], span: float, level: Mapping[str, float]) -> str:
    state = moves[0].old if moves else "closed"
    points: list[tuple[float, float]] = [(GUTTER, level.get(state, level["closed"]))]
    for move in moves:
        x = _x(move.t_ms, span)
        points.append((x, level.get(state, level["closed"])))
        state = move.new
        points.append((x, level.get(state, level["closed"])))
    points.append((GUTTER + PLOT, level.get(state, level["closed"])))
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(
        f'<circle class="move" cx="{_x(m.t_ms, span):.1f}" cy="{level.get(m.new, 0):.1f}" r="4">'
        f"{_title(f'{m.old} -> {m.new} at {m.t_ms:,.0f} ms ({m.call_id} {m.step_id})')}</circle>"
        for m in moves
    )
    return f'<polyline class="state" points="{coords}"/>' + dots


def breaker_svg(
    key: str,
    moves: Sequence[BreakerMove],
    span_ms: float,
    faults: Sequence[Mapping[str, Any]] = (),
) -> str:
    """A step chart of one breaker key (closed / half_open / open) over the run's time."""
    span = nice_span(span_ms)
    top, lane = AXIS + 6, 22.0
    level = {name: top + 8 + i * lane for name, i in _STATES.items()}
    bottom = top + 16 + 2 * lane
    parts = [_axis(span, AXIS, bottom, "ms in run"), _fault_bands(faults, span, top, bottom)]
    for name, y in level.items():
        parts.append(_line(GUTTER, y, GUTTER + PLOT, y, "lvl"))
        parts.append(_text(GUTTER - 8, y + 4, name, f"lbl state-{name}", "end"))
    parts.append(_text(8, top + 12, f"breaker {key}", "lbl strong"))
    parts.append(_step_path(moves, span, level))
    return _svg(bottom + 6, "".join(parts), f"breaker {key} state over time")


# -- error-rate windows -----------------------------------------------------------------------


def windows_svg(windows: Sequence[Mapping[str, Any]], threshold: float, window_ms: int) -> str:
    """Error rate per alert window as bars, with the alert threshold as a dashed line."""
    top, height = 16.0, 64.0
    bar_w = min(90.0, PLOT / max(len(windows), 1) - 8)

    def y(rate: float) -> float:
        return top + height * (1 - rate)

    parts = [
        _text(GUTTER - 8, top + 4, "100%", "tick", "end"),
        _text(GUTTER - 8, top + height + 4, "0%", "tick", "end"),
        _line(GUTTER, top + height, GUTTER + PLOT, top + height, "axis"),
    ]
    for i, w in enumerate(windows):
        rate = float(w["rate"])
        x = GUTTER + 10 + i * (bar_w + 8)
        cls = "win-over" if rate > threshold else "win-ok"
        tip = (
            f"window {float(w['start_ms']):,.0f}-{float(w['end_ms']):,.0f} ms: "
            f"{w['errors']} errors of {w['requests']} requests ({rate:.0%})"
        )
        parts.append(_rect(x, y(rate), bar_w, top + height - y(rate), cls, tip, 1.0))
        parts.append(
            _text(
                x + bar_w / 2,
                max(y(rate) - 4, top + 10),
                f"{w['errors']}/{w['requests']} ({rate:.0%})",
                "tick",
                "middle",
            )
        )
    ty = y(threshold)
    parts.append(_line(GUTTER, ty, GUTTER + PLOT, ty, "alert"))
    parts.append(
        _text(GUTTER + PLOT, ty - 4, f"alert over {threshold:.0%}", "tick alert-lbl", "end")
    )
    parts.append(_text(8, top + 12, "error rate", "lbl strong"))
    parts.append(_text(8, top + 28, f"per {_fmt_ms(window_ms)} window", "lbl small"))
    return _svg(top + height + 10, "".join(parts), "error rate per window")


# -- a load run's levels over time ------------------------------------------------------------


def levels_svg(
    title: str,
    series: Mapping[str, Sequence[float]],
    limit: float | None = None,
    seconds: int = 0,
) -> str:
    """Per-second levels (busy slots, queued callers) as lines, `limit` dashed (the slots).

    The time axis spans `seconds` at least, so charts drawn side by side share one scale.
    """
    seconds = max(seconds, *(len(v) for v in series.values()), 1)
    span_ms = nice_span(seconds * 1000.0)
    top, height = AXIS + 6, 120.0
    bottom = top + height
    peak = max([limit or 0.0, *(max(v, default=0.0) for v in series.values()), 1.0])

    def y(level: float) -> float:
        return bottom - height * level / peak

    parts = [
        _axis(span_ms, AXIS, bottom, "time in run"),
        _line(GUTTER, bottom, GUTTER + PLOT, bottom, "axis"),
        _text(GUTTER - 8, top + 4, f"{peak:,.0f}", "tick", "end"),
        _text(GUTTER - 8, bottom + 4, "0", "tick", "end"),
        _text(8, top + 12, title, "lbl strong"),
    ]
    if limit is not None:
        parts.append(_line(GUTTER, y(limit), GUTTER + PLOT, y(limit), "limit"))
        parts.append(_text(GUTTER - 8, y(limit) + 4, f"{limit:,.0f}", "tick", "end"))
    for i, (name, values) in enumerate(series.items()):
        points = " ".join(
            f"{_x((t + 0.5) * 1000, span_ms):.1f},{y(v):.1f}" for t, v in enumerate(values)
        )
        parts.append(
            f'<polyline class="series s{i % 3}" points="{points}">{_title(name)}</polyline>'
        )
    return _svg(bottom + 8, "".join(parts), title)
