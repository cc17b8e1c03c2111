"""Facts about a finished run that every report shows: breaker moves and error-rate windows.

They are decided here, once, when the run ends (the alert verdict uses the same windows),
so results.json, the HTML and the console never recompute them and cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.events import Event
from harness.flow.profile import PlatformProfile
from harness.scenario.expectations import error_windows

__all__ = ["BreakerMove", "alert_windows", "breaker_history"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerMove:
    """One breaker transition, on the run's clock."""

    key: str
    t_ms: float
    old: str
    new: str
    call_id: str
    step_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "t_ms": self.t_ms,
            "old": self.old,
            "new": self.new,
            "call_id": self.call_id,
            "step_id": self.step_id,
        }


def breaker_history(events: Iterable[Event]) -> dict[str, list[BreakerMove]]:
    """Transitions per breaker key, in the order they happened."""
    history: dict[str, list[BreakerMove]] = {}
    for event in events:
        if event.kind != "breaker":
            continue
        key = str(event.data.get("key", ""))
        history.setdefault(key, []).append(
            BreakerMove(
                key=key,
                t_ms=event.t_ms,
                old=str(event.data.get("old", "")),
                new=str(event.data.get("new", "")),
                call_id=event.call_id,
                step_id=event.step_id,
            )
        )
    return history


def alert_windows(events: Sequence[Event], profile: PlatformProfile) -> list[dict[str, Any]]:
    """The guide's alert rule: error rate per window, each marked over the threshold or not."""
    return [
        {**w, "rate": round(w["rate"], 6), "over_threshold": w["rate"] > profile.alert_error_rate}
        for w in error_windows(events, profile.alert_window_ms)
    ]
