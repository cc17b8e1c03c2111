"""A call's timeline: what the caller heard, when, and the silences in between."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallResult", "Caller", "Segment", "dead_air"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """A simulated caller: who calls and what they key in, one entry per CollectDigits."""

    ani: str = "+14155552671"
    dnis: str = "+18005550100"
    dtmf: tuple[str, ...] = ()
    call_id: str = "call-1"


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """One step's slice of the call. `audio` is true when the caller hears something."""

    flow_id: str
    step_id: str
    step_type: str
    start_ms: float
    end_ms: float
    audio: bool = False
    caller_input: bool = False
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.start_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "step_id": self.step_id,
            "type": self.step_type,
            "start_ms": round(self.start_ms, 3),
            "end_ms": round(self.end_ms, 3),
            "audio": self.audio,
            "caller_input": self.caller_input,
            "detail": dict(self.detail),
        }


def dead_air(segments: tuple[Segment, ...] | list[Segment]) -> tuple[float, float]:
    """(total, longest) milliseconds in which the caller heard nothing and did nothing."""
    total = longest = current = 0.0
    for seg in segments:
        if seg.audio or seg.caller_input:
            current = 0.0
            continue
        total += seg.duration_ms
        current += seg.duration_ms
        longest = max(longest, current)
    return total, longest


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResult:
    """How one simulated call ended, and everything that happened on the way."""

    call_id: str
    flow_id: str
    outcome: str  # transfer:<queue> | voicemail | hangup | return | dead_end | error
    terminal_step: str
    reason: str
    start_ms: float
    end_ms: float
    segments: tuple[Segment, ...]
    variables: Mapping[str, Any]
    dead_air_ms: float
    max_dead_air_ms: float

    @classmethod
    def dropped(cls, call_id: str, start_ms: float, end_ms: float) -> CallResult:
        """A caller who never got a flow-execution slot: the platform drops the call, and
        the caller heard nothing from arrival to hang-up."""
        return cls(
            call_id=call_id,
            flow_id="",
            outcome="dropped",
            terminal_step="",
            reason="no flow-execution slot in time",
            start_ms=start_ms,
            end_ms=end_ms,
            segments=(),
            variables={},
            dead_air_ms=end_ms - start_ms,
            max_dead_air_ms=end_ms - start_ms,
        )

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.start_ms

    def steps(self) -> list[str]:
        return [s.step_id for s in self.segments]

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "flow_id": self.flow_id,
            "outcome": self.outcome,
            "terminal_step": self.terminal_step,
            "reason": self.reason,
            "start_ms": round(self.start_ms, 3),
            "end_ms": round(self.end_ms, 3),
            "duration_ms": round(self.duration_ms, 3),
            "dead_air_ms": round(self.dead_air_ms, 3),
            "max_dead_air_ms": round(self.max_dead_air_ms, 3),
            "segments": [s.to_json() for s in self.segments],
        }
