"""Apply a scenario's faults on schedule and take them away again.

A fault starts at once, `at_ms` after the run starts, or once `after_calls`
calls have ended; it lasts `for_ms`, until `until_calls` calls have ended, or
to the end of the run. Network toxics are real time, so under a scaled clock
their durations are divided by the scale to keep flow time consistent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from harness.backends.faults import ActiveFault
from harness.clock import Clock
from harness.errors import HarnessError
from harness.events import Event
from harness.executor.resolver import DnsFault
from harness.executor.timeline import CallResult
from harness.scenario.environment import Environment
from harness.scenario.model import Fault, Scenario

__all__ = ["CallCounter", "FaultDriver"]

_MS_ATTRIBUTES = {"latency", "jitter", "timeout", "delay"}
_CALLBACK_PREFIX = "ticket"


class CallCounter:
    """How many calls have ended, with hooks that run the moment a count is reached.

    A hook runs inside `ended()`, before the caller that finished releases its
    slot, so with sequential callers a fault "after 3 calls" is in force for
    call 4 exactly, not for whichever call wins a race.
    """

    def __init__(self) -> None:
        self.done = 0
        self._hooks: dict[int, list[Callable[[], Awaitable[None]]]] = {}

    def at(self, count: int, hook: Callable[[], Awaitable[None]]) -> None:
        if self.done >= count:
            raise ValueError("count already reached")
        self._hooks.setdefault(count, []).append(hook)

    async def ended(self) -> None:
        self.done += 1
        for hook in self._hooks.pop(self.done, []):
            await hook()


class FaultDriver:
    """Applies and removes the faults of one scenario run."""

    def __init__(
        self,
        scenario: Scenario,
        env: Environment,
        clock: Clock,
        emit: Callable[..., Any],
    ) -> None:
        self.scenario = scenario
        self.env = env
        self.clock = clock
        self.emit = emit
        self.scale = scenario.time_scale
        self._undo: dict[int, Callable[[], Awaitable[None]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.log: list[dict[str, Any]] = []
        self.hits: dict[int, ActiveFault] = {}  # HTTP faults: how often each fired

    async def start(self, counter: CallCounter) -> None:
        """Apply the immediate faults now; schedule the rest on the clock or the call count."""
        for index, fault in enumerate(self.scenario.faults):
            if fault.after_calls:
                counter.at(fault.after_calls, self._starter(index, fault, counter))
            elif fault.at_ms:
                self._later(fault.at_ms, self._starter(index, fault, counter))
            else:
                await self._apply(index, fault)
                self._schedule_end(index, fault, counter)

    def _starter(
        self, index: int, fault: Fault, counter: CallCounter
    ) -> Callable[[], Awaitable[None]]:
        async def start() -> None:
            await self._apply(index, fault)
            self._schedule_end(index, fault, counter)

        return start

    def _schedule_end(self, index: int, fault: Fault, counter: CallCounter) -> None:
        async def end() -> None:
            await self._remove(index, fault)

        if fault.for_ms:
            self._later(fault.for_ms, end)
        elif fault.until_calls and fault.until_calls > counter.done:
            counter.at(fault.until_calls, end)

    def _later(self, ms: int, action: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            await self.clock.sleep(ms / 1000)
            await action()

        self._tasks.append(asyncio.create_task(run()))

    async def stop(self) -> None:
        """Cancel pending schedules and remove every fault still in force."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for index in sorted(self._undo):
            await self._remove(index, self.scenario.faults[index])

    async def _apply(self, index: int, fault: Fault) -> None:
        apply = getattr(self, f"_apply_{fault.kind}")
        self._undo[index] = await apply(index, fault)
        self._record("fault_applied", index, fault)

    async def _remove(self, index: int, fault: Fault) -> None:
        undo = self._undo.pop(index, None)
        if undo is not None:
            await undo()
            self._record("fault_removed", index, fault)

    def _record(self, kind: str, index: int, fault: Fault) -> None:
        label = fault.title or f"{fault.kind} on {fault.target or fault.spec.get('host', '')}"
        entry = {"kind": kind, "fault": index, "label": label, "t_ms": self.env.ctx.now_ms()}
        self.log.append(entry)
        self.emit(kind, fault=index, label=label, type=fault.kind, target=fault.target)

    async def _apply_toxic(self, index: int, fault: Fault) -> Callable[[], Awaitable[None]]:
        proxy = self.env.proxy_for(fault.target, fault.step)
        spec = fault.spec
        stream = spec.get("stream", "downstream")
        name = f"f{index}_{spec['type']}_{stream}"
        await self.env.control.add_toxic(
            proxy,
            spec["type"],
            stream=stream,
            name=name,
            toxicity=float(spec.get("toxicity", 1.0)),
            attributes=self._scaled(spec["type"], spec.get("attributes", {})),
        )
        return lambda: self.env.control.remove_toxic(proxy, name)

    def _scaled(self, toxic: str, attributes: dict[str, int]) -> dict[str, int]:
        if self.scale == 1:
            return dict(attributes)
        out: dict[str, int] = {}
        for key, value in attributes.items():
            if key in _MS_ATTRIBUTES or (toxic == "slicer" and key == "delay"):
                out[key] = max(0, round(value / self.scale))
            elif toxic == "bandwidth" and key == "rate":
                out[key] = max(1, round(value * self.scale))  # 0 would mean "deliver nothing"
            else:
                out[key] = value
        return out

    async def _apply_http(self, index: int, fault: Fault) -> Callable[[], Awaitable[None]]:
        spec = dict(fault.spec)
        if spec.get("kind") == "accepted":
            # No URL, or a path: the run's own webhook receiver (`/webhooks/PREFIX` stores
            # the callback under `PREFIX:<correlationId>` in Data Storage).
            spec.setdefault("callbackUrl", f"/webhooks/{_CALLBACK_PREFIX}")
            if str(spec["callbackUrl"]).startswith("/"):
                spec["callbackUrl"] = self.env.receiver_url + str(spec["callbackUrl"])
        if fault.step:
            spec["step"] = fault.step
        faults = self.env.fault_set(fault.target)
        active: ActiveFault = faults.add(spec)
        self.hits[index] = active

        async def undo() -> None:
            if spec.get("kind") == "rotate_scopes":
                faults.clear()  # rotating back is what clearing does
            else:
                faults.remove(active)

        return undo

    async def _apply_dns(self, index: int, fault: Fault) -> Callable[[], Awaitable[None]]:
        host = fault.spec.get("host") or self.env.host_of(fault.target)
        dns = DnsFault(kind=fault.spec["kind"], stall_ms=int(fault.spec.get("stall_ms", 0)))
        self.env.resolver.set_fault(host, dns, step=fault.step)

        async def undo() -> None:
            self.env.resolver.set_fault(host, None, step=fault.step)

        return undo

    async def _apply_disable(self, index: int, fault: Fault) -> Callable[[], Awaitable[None]]:
        # Not a Toxiproxy disable: that frees the listen port, which a concurrent run
        # can take (calls would then reach its server, and re-enabling fails with
        # "address already in use"). New connections go to the run's refused port
        # instead; a reset_peer toxic drops the live ones, as a disabled proxy does.
        proxy = self.env.proxy_for(fault.target, fault.step)
        refused = self.env.refused
        if refused is None:
            raise HarnessError("this environment has no refused port to disable a backend with")
        name = f"f{index}_disabled"
        self.env.reroute(fault.target, f"http://{refused.address}", step=fault.step)
        await self.env.control.add_toxic(
            proxy, "reset_peer", stream="downstream", name=name, attributes={"timeout": 0}
        )

        async def undo() -> None:
            self.env.reroute(fault.target, None, step=fault.step)
            await self.env.control.remove_toxic(proxy, name)

        return undo

    def unexercised(self, events: Sequence[Event], calls: Sequence[CallResult]) -> list[str]:
        """Why each step-scoped fault was never felt by its step, one line each: its step
        never started an attempt while the fault was in force (an HTTP fault: never
        fired). A run like that tested nothing, so it is an error, never a pass. What
        each one was felt by goes into the fault log (`fault_felt`, for the reports)."""
        out = []
        for index, fault in enumerate(self.scenario.faults):
            if not fault.step:
                continue
            windows = self._windows(index)
            step = fault.step.rpartition("/")[2]
            tried = sum(
                1
                for e in events
                if e.kind == "attempt_start" and e.step_id == step and _inside(e.t_ms, windows)
            )
            active = self.hits.get(index)
            fired = tried if active is None else min(tried, active.hits)
            label = fault.title or f"{fault.kind} on {fault.target or fault.spec.get('host', '')}"
            self.log.append({"kind": "fault_felt", "fault": index, "label": label,
                             "t_ms": self.env.ctx.now_ms(), "step": fault.step,
                             "attempts": fired})  # fmt: skip
            if fired:
                continue
            why = _where_calls_went(calls) if not tried else "it ran, but no request matched"
            out.append(f"step {fault.step} never ran under fault {index} ({label}): {why}")
        return out

    def _windows(self, index: int) -> list[tuple[float, float]]:
        windows: list[tuple[float, float]] = []
        start: float | None = None
        for entry in self.log:
            if entry["fault"] != index:
                continue
            if entry["kind"] == "fault_applied":
                start = entry["t_ms"]
            elif start is not None:
                windows.append((start, entry["t_ms"]))
                start = None
        if start is not None:
            windows.append((start, float("inf")))
        return windows


def _inside(t_ms: float, windows: Sequence[tuple[float, float]]) -> bool:
    return any(lo <= t_ms <= hi for lo, hi in windows)


def _where_calls_went(calls: Sequence[CallResult]) -> str:
    if not calls:
        return "no call ran"
    call = calls[0]
    steps = [s.step_id for s in call.segments]
    tail = " -> ".join(steps[-4:]) or "(no step)"
    more = f" (and {len(calls) - 1} more calls)" if len(calls) > 1 else ""
    return f"the call went {tail} and ended in {call.outcome}{more}"
