"""The circuit breaker of `circuitBreaker: {key, failureThreshold, cooldownMs, countOn}`.

State lives in Data Storage under ``cb:<key>:*`` so every call and every step
that names the same key shares one breaker, and a flow can read it with DataAPI
steps. Transitions::

    closed --N consecutive counted failures--> open --cooldown--> half_open
    half_open --trial succeeds--> closed;  half_open --trial fails--> open

While open, and while a half-open trial is in flight, calls are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from harness.executor.storage import DataStorage
from harness.flow.http_config import BreakerConfig

__all__ = ["CircuitBreaker", "Permit", "State", "Transition", "counts_as_failure"]

State = Literal["closed", "open", "half_open"]


def counts_as_failure(outcome: str, status: int, count_on: frozenset[str]) -> bool:
    """Whether one attempt's result counts against the breaker."""
    if outcome == "timeout":
        return "timeout" in count_on
    if outcome == "connection_error":
        return "connection" in count_on
    if outcome == "dns_error":
        return "dns" in count_on or "connection" in count_on
    if status >= 500:
        return "5xx" in count_on
    if status == 429:
        return "429" in count_on or "4xx" in count_on
    if 400 <= status < 500:
        return "4xx" in count_on
    return False


Transition = Callable[[str, State, State], None]


@dataclass(frozen=True, slots=True)
class Permit:
    """One attempt the breaker allowed; `trial` marks the single half-open trial."""

    trial: bool = False


class CircuitBreaker:
    """One breaker's logic over shared Data Storage; cheap to build per step."""

    def __init__(
        self,
        config: BreakerConfig,
        storage: DataStorage,
        now_ms: Callable[[], float],
        on_transition: Transition | None = None,
    ) -> None:
        self.config = config
        self._storage = storage
        self._now_ms = now_ms
        self._on_transition = on_transition
        self._prefix = f"cb:{config.key}:"

    @property
    def state(self) -> State:
        state: State = self._storage.get(self._prefix + "state", "closed")
        if state == "open" and self._cooled_down():
            return "half_open"
        return state

    def _cooled_down(self) -> bool:
        opened = float(self._storage.get(self._prefix + "opened_at", 0))
        return self._now_ms() - opened >= self.config.cooldown_ms

    def acquire(self) -> Permit | None:
        """Ask to make one attempt. None means: skip it, the circuit is open."""
        stored: State = self._storage.get(self._prefix + "state", "closed")
        if stored == "closed":
            return Permit()
        if stored == "open" and self._cooled_down():
            self._set_state("open", "half_open")
            self._storage.set(self._prefix + "trial", True)
            return Permit(trial=True)
        return None  # open and cooling, or a half-open trial already in flight

    def release(self, permit: Permit) -> None:
        """Give back a permit whose attempt never reached the wire (no token, bad URL, cancel).

        Only the half-open trial matters: it goes back to open with its old timestamp, so
        the next call is the trial. Any other permit changes nothing.
        """
        stored: State = self._storage.get(self._prefix + "state", "closed")
        if permit.trial and stored == "half_open":
            self._storage.delete(self._prefix + "trial")
            self._set_state("half_open", "open")

    def record(self, failed: bool) -> None:
        """Report the result of an attempt that `acquire` allowed."""
        stored: State = self._storage.get(self._prefix + "state", "closed")
        if stored == "half_open":
            self._storage.delete(self._prefix + "trial")
            if failed:
                self._open("half_open")
            else:
                self._storage.set(self._prefix + "failures", 0)
                self._set_state("half_open", "closed")
            return
        if not failed:
            self._storage.set(self._prefix + "failures", 0)
            return
        failures = self._storage.increment(self._prefix + "failures")
        if stored == "closed" and failures >= self.config.failure_threshold:
            self._open("closed")

    def _open(self, previous: State) -> None:
        self._storage.set(self._prefix + "opened_at", self._now_ms())
        self._set_state(previous, "open")

    def _set_state(self, previous: State, new: State) -> None:
        self._storage.set(self._prefix + "state", new)
        if self._on_transition is not None and previous != new:
            self._on_transition(self.config.key, previous, new)
