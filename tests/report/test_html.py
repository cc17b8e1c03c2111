"""report.html: one self-contained page, no network, escaped, a timeline picture per run."""

from __future__ import annotations

import os
import re
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.executor.timeline import CallResult
from harness.report.html import render_html
from harness.report.svg import timeline_svg
from harness.scenario.runner import SuiteResult

CHROMIUM = Path("/usr/bin/chromium")
_VOID = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "source", "wbr"}
_LOADERS = ("src", "href", "xlink:href", "srcset", "data", "poster", "action")


class _Page(HTMLParser):
    """Checks nesting, and collects what a browser would fetch and what each run section holds."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.fetches: list[str] = []
        self.tags: set[str] = set()
        self.runs: dict[str, list[str]] = {}  # section id -> svg aria-labels inside it
        self._section: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        for name in _LOADERS:
            value = values.get(name) or ""
            if value and not value.startswith("#"):
                self.fetches.append(f"<{tag} {name}={value}>")
        if tag == "section" and (values.get("id") or "").startswith("run-"):
            self._section = values["id"]
            self.runs[self._section or ""] = []
        if tag == "svg" and self._section:
            self.runs[self._section].append(values.get("aria-label") or "")
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == "section":
            self._section = None


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module")
def both(happy_suite: SuiteResult, fake_suite: SuiteResult) -> SuiteResult:
    return SuiteResult(
        run_id=happy_suite.run_id,
        started_at=happy_suite.started_at,
        runs=[*happy_suite.runs, *fake_suite.runs],
        wall_ms=happy_suite.wall_ms,
        toxiproxy="embedded",
    )


def test_parses_and_nests(both: SuiteResult) -> None:
    page = _parse(render_html(both))
    assert page.problems == [] and page.stack == []


def test_loads_nothing_from_anywhere(both: SuiteResult) -> None:
    text = render_html(both)
    page = _parse(text)
    assert page.fetches == []
    assert not {"script", "link", "iframe", "object", "embed", "img"} & page.tags
    assert "@import" not in text and "url(" not in text
    # The only URL outside escaped text is the SVG namespace, which nothing fetches.
    assert (
        re.findall(r"""(?:src|href|srcset|action|data)\s*=\s*["']?\s*(?:https?:)?//""", text) == []
    )
    assert set(re.findall(r'xmlns="([^"]+)"', text)) == {"http://www.w3.org/2000/svg"}


def test_hostile_text_is_escaped(fake_suite: SuiteResult) -> None:
    text = render_html(fake_suite)
    assert "<script>" not in text and '<img src="https://evil' not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "\x07" not in text


def test_a_timeline_picture_per_run(both: SuiteResult) -> None:
    page = _parse(render_html(both))
    assert len(page.runs) == len(both.runs)
    for section, labels in page.runs.items():
        assert any(label.startswith("timeline of") for label in labels), section


def test_breaker_and_error_rate_charts(fake_suite: SuiteResult) -> None:
    page = _parse(render_html(fake_suite))
    storm = next(labels for section, labels in page.runs.items() if "storm-hardened" in section)
    assert "breaker crm state over time" in storm
    assert "error rate per window" in storm


def test_failed_checks_show_expected_and_actual(fake_suite: SuiteResult) -> None:
    text = render_html(fake_suite)
    assert "Failed checks" in text
    assert "call-1: ended in dead_end at confirm" in text
    assert "known defect no longer detected: every call ends in transfer:agent-queue" in text


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_chromium_renders_the_report(both: SuiteResult, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not installed (apt-get install -y chromium)"
        if os.environ.get("IVR_REQUIRE_CHROMIUM"):  # `make test-all` installs it: never skip
            pytest.fail(reason)
        pytest.skip(reason)
    page = tmp_path / "report.html"
    page.write_text(render_html(both), encoding="utf-8")
    shot = tmp_path / "report.png"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
        "--window-size=1280,2000",
    ]  # fmt: skip
    subprocess.run(
        [str(CHROMIUM), *flags, page.as_uri()], check=True, capture_output=True, timeout=90
    )
    assert _png_size(shot) == (1280, 2000)
    assert shot.stat().st_size > 50_000  # a blank page compresses to a few KB


def test_a_dropped_call_is_drawn_as_silence() -> None:
    dropped = CallResult(
        call_id="call-9", flow_id="ivr", outcome="dropped", terminal_step="",
        reason="no flow slot in 5000 ms", start_ms=100.0, end_ms=5100.0, segments=(),
        variables={}, dead_air_ms=5000.0, max_dead_air_ms=5000.0,
    )  # fmt: skip
    svg = timeline_svg([dropped], [])
    assert 'class="seg seg-silence"' in svg and "no step ran: dropped no flow slot" in svg


def test_every_attempt_bar_names_its_step() -> None:
    from harness.events import Event

    call = CallResult(
        call_id="call-1", flow_id="clinic", outcome="hangup", terminal_step="bye", reason="",
        start_ms=0.0, end_ms=8000.0, segments=(), variables={}, dead_air_ms=0.0,
        max_dead_air_ms=0.0,
    )  # fmt: skip

    def attempt(step: str, start: float, end: float, status: int, outcome: str) -> list[Event]:
        return [
            Event(kind="attempt_start", t_ms=start, call_id="call-1", step_id=step,
                  data={"attempt": 1}),
            Event(kind="attempt_end", t_ms=end, call_id="call-1", step_id=step,
                  data={"attempt": 1, "outcome": outcome, "status": status,
                        "elapsed_ms": end - start}),
        ]  # fmt: skip

    events = attempt("http-slots", 0, 2000, 200, "success")
    events += attempt("http-book", 2500, 5500, 0, "timeout")
    svg = timeline_svg([call], events)
    assert ">http-slots 200<" in svg and ">http-book timeout<" in svg
