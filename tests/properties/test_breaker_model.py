"""The circuit breaker against a pure model, step by step (SPEC 4, 6.2).

A :class:`RuleBasedStateMachine` drives the real :class:`CircuitBreaker` (two instances
sharing one key in one :class:`DataStorage`, as every call and step with the same key
does) and a few lines of model side by side: callers acquire and report results in any
interleaving, and time moves by amounts that land exactly on, just before and just after
the end of the cooldown. After every rule the breaker's state, its transitions and its
``acquire()`` answers must be the model's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)

from harness.executor.breaker import CircuitBreaker, State
from harness.executor.breaker import Permit as BreakerPermit
from harness.executor.storage import DataStorage
from harness.flow.http_config import BreakerConfig
from tests.fixtures.flows import http_step
from tests.fixtures.inprocess import Reply, make_env, token_reply

# Offsets from the end of the cooldown: exactly on it, a hair and a millisecond either side.
BOUNDARY_OFFSETS_MS = (-1.0, -0.001, 0.0, 0.001, 1.0)


@dataclass(frozen=True, slots=True)
class Permit:
    """An attempt a breaker allowed: which of the two instances, whether it is the trial,
    and the breaker's own permit to give back."""

    which: int
    trial: bool
    real: BreakerPermit


@dataclass
class Model:
    """closed -> open after N consecutive failures -> half_open after the cooldown (one
    trial) -> closed on success, open again on failure. Results count against the state
    they arrive in; while open they change nothing. A trial given back unused (no token)
    leaves the breaker open with its old timestamp, so the next call is the trial."""

    threshold: int
    cooldown_ms: float
    state: State = "closed"
    failures: int = 0
    opened_at: float = 0.0
    transitions: list[tuple[State, State]] = field(default_factory=list)

    def cooled(self, now: float) -> bool:
        return now - self.opened_at >= self.cooldown_ms

    def view(self, now: float) -> State:
        return "half_open" if self.state == "open" and self.cooled(now) else self.state

    def move(self, new: State, now: float) -> None:
        self.transitions.append((self.state, new))
        self.state = new
        if new == "open":
            self.opened_at = now

    def acquire(self, now: float) -> bool:
        if self.state == "closed":
            return True
        if self.state == "open" and self.cooled(now):
            self.move("half_open", now)
            return True
        return False

    def record(self, failed: bool, now: float) -> None:
        if self.state == "half_open":
            self.failures = 0
            self.move("open" if failed else "closed", now)
        elif self.state == "closed":
            self.failures = self.failures + 1 if failed else 0
            if self.failures >= self.threshold:
                self.move("open", now)

    def release(self, permit: Permit) -> None:
        if permit.trial and self.state == "half_open":
            self.transitions.append(("half_open", "open"))
            self.state = "open"  # opened_at unchanged: already cooled down


class BreakerMachine(RuleBasedStateMachine):
    permits = Bundle("permits")

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.storage = DataStorage(lambda: self.now / 1000)
        self.seen: list[tuple[State, State]] = []
        self.model = Model(threshold=3, cooldown_ms=30_000)
        self.breakers: list[CircuitBreaker] = []
        self.other: CircuitBreaker | None = None

    def _now_ms(self) -> float:
        return self.now

    @initialize(threshold=st.integers(1, 5), cooldown=st.sampled_from([0, 1, 250, 30_000]))
    def configure(self, threshold: int, cooldown: int) -> None:
        config = BreakerConfig(key="crm", failure_threshold=threshold, cooldown_ms=cooldown)
        self.model = Model(threshold=threshold, cooldown_ms=cooldown)
        self.breakers = [
            CircuitBreaker(config, self.storage, self._now_ms, self._transition) for _ in range(2)
        ]
        self.other = CircuitBreaker(BreakerConfig(key="other"), self.storage, self._now_ms)

    def _transition(self, key: str, old: State, new: State) -> None:
        assert key == "crm"
        self.seen.append((old, new))

    # -- callers (any number in flight, on either instance) -----------------------------------

    @rule(target=permits, which=st.integers(0, 1))
    def acquire(self, which: int) -> object:
        trial = self.model.state == "open" and self.model.cooled(self.now)
        allowed = self.breakers[which].acquire()
        assert (allowed is not None) is self.model.acquire(self.now)
        assert allowed is None or allowed.trial == trial
        return multiple(Permit(which, trial, allowed)) if allowed else multiple()

    @rule(permit=consumes(permits), failed=st.booleans())
    def record(self, permit: Permit, failed: bool) -> None:
        self.breakers[permit.which].record(failed)
        self.model.record(failed, self.now)

    @rule(permit=consumes(permits))
    def release(self, permit: Permit) -> None:
        """An allowed attempt that never reached the wire (the token fetch failed)."""
        self.breakers[permit.which].release(permit.real)
        self.model.release(permit)

    @rule(permit=consumes(permits))
    def abandon(self, permit: Permit) -> None:
        """A caller that neither reports nor gives back (cancelled mid-attempt)."""

    # -- time ---------------------------------------------------------------------------------

    @rule(offset=st.sampled_from(BOUNDARY_OFFSETS_MS))
    def to_cooldown_boundary(self, offset: float) -> None:
        self.now = max(self.now, self.model.opened_at + self.model.cooldown_ms + offset)

    @rule(ms=st.sampled_from([0.001, 1.0, 100.0]) | st.floats(0, 120_000))
    def advance(self, ms: float) -> None:
        self.now += ms

    # -- the real breaker is the model ----------------------------------------------------------

    @invariant()
    def same_state(self) -> None:
        for breaker in self.breakers:
            assert breaker.state == self.model.view(self.now)
        assert self.seen == self.model.transitions
        assert self.other is None or self.other.state == "closed"


# The machine's default settings inherit max_examples from the loaded profile.
test_breaker_matches_the_model = BreakerMachine.TestCase


def _breaker(cooldown_ms: int = 500) -> tuple[list[float], CircuitBreaker, list[tuple[str, str]]]:
    now = [0.0]
    seen: list[tuple[str, str]] = []
    breaker = CircuitBreaker(
        BreakerConfig(key="k", failure_threshold=1, cooldown_ms=cooldown_ms),
        DataStorage(lambda: now[0] / 1000),
        lambda: now[0],
        lambda _key, old, new: seen.append((old, new)),
    )
    return now, breaker, seen


def test_a_stale_permit_given_back_does_not_admit_a_second_trial() -> None:
    # Found by this suite: a permit from before the breaker opened reopened the trial.
    now, breaker, _ = _breaker()
    stale = breaker.acquire()  # caller A, admitted while closed; its token fetch is slow
    assert stale is not None and breaker.acquire()  # caller B
    breaker.record(True)  # B fails: open
    now[0] = 500.0
    assert breaker.acquire()  # caller C: the one half-open trial
    breaker.release(stale)  # A's token fetch fails at last; A gives its permit back
    assert breaker.acquire() is None  # caller D must wait for C's trial


def test_giving_back_the_trial_is_a_reported_transition() -> None:
    now, breaker, seen = _breaker()
    assert breaker.acquire()
    breaker.record(True)
    now[0] = 500.0
    trial = breaker.acquire()
    assert trial is not None and trial.trial
    breaker.release(trial)
    assert seen == [("closed", "open"), ("open", "half_open"), ("half_open", "open")]


# --- at the executor level ------------------------------------------------------------------

OAUTH = {
    "type": "oauth2",
    "clientId": "ivr",
    "clientSecret": "s3cret",
    "tokenEndpoint": "http://auth.test/oauth/token",
}
BREAKER = {"key": "crm", "failureThreshold": 1, "cooldownMs": 1000}


async def test_a_half_open_trial_that_fails_before_the_wire_does_not_wedge_the_breaker() -> None:
    # Found by this suite: the trial's token fetch failed, nothing was recorded, and the
    # breaker stayed half_open, refusing every later call as circuit_open for ever.
    env = make_env(
        {
            "/x": [Reply(500, {}), Reply(200, {})],
            # A token that expires at once, a token endpoint that is down, then up again.
            "/oauth/token": [token_reply(expires_in=0), Reply(503, {}), token_reply()],
        }
    )
    step = http_step(timeout=1000, authentication=OAUTH, circuitBreaker=BREAKER)
    try:
        first = await env.executor.execute(step, {})
        assert first.status == 500  # one counted failure: open
        env.clock.advance(1.0)  # the cooldown is over: the next call is the trial
        second = await env.executor.execute(step, {})
        assert second.outcome == "auth_error"  # the trial never reached the wire
        third = await env.executor.execute(step, {})
        assert third.outcome == "success"  # so the next call is the trial, and it closes
        assert env.script.count("/x") == 2
    finally:
        await env.ctx.aclose()


def test_the_cooldown_boundary_is_inclusive() -> None:
    # The same boundary the machine probes, spelled out once for a reader.
    now = [0.0]
    breaker = CircuitBreaker(
        BreakerConfig(key="k", failure_threshold=1, cooldown_ms=500),
        DataStorage(lambda: now[0] / 1000),
        lambda: now[0],
    )
    assert breaker.acquire()
    breaker.record(True)
    now[0] = 499.999
    assert (breaker.state, breaker.acquire()) == ("open", None)
    now[0] = 500.0
    assert breaker.state == "half_open" and breaker.acquire() is not None
    assert breaker.acquire() is None  # one trial at a time
