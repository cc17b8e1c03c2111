"""Caller input that reaches each HTTP step, found by running the flows themselves.

The battery aims each fault at one HTTP step; that is worth something only if the
simulated caller gets there. A menu after the first input, a re-prompt loop, a SubFlow
guarded by the account number: what reaches a step is decided by the flows' own guards
and by what the backends answer. So the caller's keys are searched for, not written by
hand: the real flow runner plays calls in-process, against the same stubs the battery
stands up (built from the project's OpenAPI specs), on a virtual clock, and at each
CollectDigits a call reaches, the inputs the guards mention (:mod:`harness.scenario.keys`)
are tried, breadth first, one path per distinct route taken. The first input that
visits a step is the one its battery uses; when none does, the note names the guard
that never let a call through toward it.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from harness.backends.faults import FaultSet, RequestLog
from harness.backends.faultspec import KINDS
from harness.backends.stub import build_stub_app
from harness.backends.upstream import build_proxy_app, new_client
from harness.backends.webhook import WebhookSender
from harness.clock import Clock, ScaledClock, VirtualClock
from harness.config import BackendEntry
from harness.executor.context import ExecutorContext
from harness.executor.resolver import DnsFailure, FaultyResolver
from harness.executor.runner import FlowRunner
from harness.executor.timeline import Caller, CallResult
from harness.executor.wire import WireError, WireRequest, WireResponse
from harness.flow.lint.context import edges
from harness.flow.model import Flow, FlowSet, Step
from harness.flow.profile import CXONE, PlatformProfile
from harness.scenario.keys import candidates

__all__ = ["Reach", "reach_steps"]

_BUDGET = 300  # calls played per entry flow before the search gives up
_DEPTH = 8  # CollectDigits answered per call, at most
_PORT0 = 20000  # in-process "ports": each project host gets one, nothing listens


@dataclass(frozen=True, slots=True, kw_only=True)
class Reach:
    """How a caller gets to one HTTP step (`flow/step`) with every backend healthy."""

    step: str
    dtmf: tuple[str, ...] | None  # the keys, one entry per CollectDigits; None: not reached
    landing: str | None = None  # where the call went after the step (past its router)
    blocked: str = ""  # when not reached: the guard that never let a call through
    outcome: str = ""  # how that call ended (`hangup`, `transfer:front-desk`)
    http_steps: tuple[str, ...] = ()  # every HTTP step that call ran, in order


async def reach_steps(
    flows: FlowSet,
    entry: str,
    targets: Sequence[str],
    *,
    hosts: Mapping[str, BackendEntry],
    variables: Mapping[str, Any],
    profile: PlatformProfile = CXONE,
    budget: int = _BUDGET,
) -> dict[str, Reach]:
    """For each target (`flow/step`), the caller input that reaches it from flow `entry`."""
    async with _explorer(flows, hosts, variables, profile) as play:
        return await _search(flows, entry, list(targets), play, budget)


async def _search(
    flows: FlowSet, entry: str, targets: list[str], play: _Play, budget: int
) -> dict[str, Reach]:
    found: dict[str, Reach] = {}
    calls: list[CallResult] = []
    queue: deque[tuple[str, ...]] = deque([()])
    routes: set[tuple[str, ...]] = set()
    while queue and len(calls) < budget and len(found) < len(targets):
        keys = queue.popleft()
        call = await play(entry, keys, len(calls))
        calls.append(call)
        visited = [f"{s.flow_id}/{s.step_id}" for s in call.segments]
        for target in targets:
            if target not in found and target in visited:
                found[target] = Reach(
                    step=target,
                    dtmf=keys,
                    landing=_landing(call, target),
                    outcome=call.outcome,
                    http_steps=tuple(dict.fromkeys(
                        f"{s.flow_id}/{s.step_id}" for s in call.segments
                        if s.step_type == "HTTPRequest"
                    )),
                )  # fmt: skip
        collects = [i for i, s in enumerate(call.segments) if s.step_type == "CollectDigits"]
        if len(collects) <= len(keys) or len(keys) >= _DEPTH:
            continue
        at = collects[len(keys)]  # the first CollectDigits this call had no key for
        route = tuple(visited[: at + 1])
        if route in routes:
            continue  # another input already took this route to here
        routes.add(route)
        segment = call.segments[at]
        step = _step(flows, segment.flow_id, segment.step_id)
        if step is not None:
            for key in candidates(step, flows, dict(call.variables)):
                queue.append((*keys, key))
    for target in targets:
        if target not in found:
            found[target] = Reach(step=target, dtmf=None, blocked=_blocker(flows, calls, target))
    return found


def _step(flows: FlowSet, flow_id: str, step_id: str) -> Step | None:
    flow = flows.get(flow_id)
    return flow.step(step_id) if flow is not None else None


def _landing(call: CallResult, target: str) -> str | None:
    segments = call.segments
    for index, seg in enumerate(segments):
        if f"{seg.flow_id}/{seg.step_id}" == target:
            later = (s.step_id for s in segments[index + 1 :] if s.step_type != "Condition")
            return next(later, None)
    return None


def _blocker(flows: FlowSet, calls: Sequence[CallResult], target: str) -> str:
    """The guard nearest `target` that had a way toward it no explored call ever took."""
    taken: dict[str, set[str]] = {}
    for call in calls:
        for seg in call.segments:
            if seg.step_type == "Condition":
                key = f"{seg.flow_id}/{seg.step_id}"
                taken.setdefault(key, set()).add(str(seg.detail.get("next")))
    best: tuple[int, str] | None = None
    for key, went in taken.items():
        flow_id, _, step_id = key.partition("/")
        flow = flows.get(flow_id)
        step = flow.step(step_id) if flow is not None else None
        if flow is None or step is None:
            continue
        for edge in edges(step):
            if edge.target in went:
                continue
            distance = _distance(flows, flow, edge.target, target)
            if distance is not None and (best is None or distance < best[0]):
                best = (distance, f"{step_id} ({_branch_text(step, edge.target)})")
    if best is None:
        return "no explored call came near it (every call ended before any guard toward it)"
    return f"{best[1]} never sent an explored call toward it"


def _branch_text(step: Step, target: str) -> str:
    for branch in step.config.get("conditions", []):
        if str(branch.get("nextStepId")) == target:
            return f"`{branch.get('expression', '')}` -> {target}"
    return f"default -> {target}"


def _distance(flows: FlowSet, flow: Flow, start: str, target: str) -> int | None:
    """Steps from `start` (in `flow`) to `target` (`flow/step`), SubFlows entered."""
    seen: set[str] = set()
    todo: deque[tuple[Flow, str, int]] = deque([(flow, start, 0)])
    while todo:
        current, step_id, depth = todo.popleft()
        key = f"{current.id}/{step_id}"
        if key == target:
            return depth
        step = current.step(step_id)
        if step is None or key in seen:
            continue
        seen.add(key)
        for edge in edges(step):
            todo.append((current, edge.target, depth + 1))
        child = flows.subflow_target(current, step) if step.type == "SubFlow" else None
        if child is not None:
            todo.append((child, child.entry_step_id, depth + 1))
    return None


class _Play:
    """Plays one call with the given keys; see `_explorer`."""

    def __init__(self, runner: FlowRunner, variables: Mapping[str, Any]) -> None:
        self.runner = runner
        self.variables = variables

    async def __call__(self, entry: str, keys: tuple[str, ...], n: int) -> CallResult:
        caller = Caller(dtmf=keys, call_id=f"reach-{n}")
        return await self.runner.run_call(entry, caller, self.variables)


@contextlib.asynccontextmanager
async def _explorer(
    flows: FlowSet,
    hosts: Mapping[str, BackendEntry],
    variables: Mapping[str, Any],
    profile: PlatformProfile,
) -> AsyncIterator[_Play]:
    """A flow runner whose requests reach the project's backends in-process: the stub of
    each spec (or, for a host with only a base_url, our proxy in front of it)."""
    upstream_only = any(e.spec is None and e.base_url for e in hosts.values())
    # Real upstreams answer in real time: a fast clock keeps the holds short.
    clock: Clock = ScaledClock(50.0) if upstream_only else VirtualClock(settle=200)
    sender = WebhookSender(clock)
    apps: dict[int, Any] = {}
    routes: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(sender.aclose)
        client: httpx.AsyncClient | None = None
        for port, (host, entry) in zip(itertools.count(_PORT0), hosts.items(), strict=False):
            faults = FaultSet(host, allowed_kinds=frozenset(KINDS))
            if entry.spec is not None:
                app = build_stub_app(
                    entry.spec, name=host, faults=faults, log=RequestLog(), clock=clock,
                    sender=sender,
                )  # fmt: skip
            elif entry.base_url:
                if client is None:
                    client = new_client()
                    stack.push_async_callback(client.aclose)
                app = build_proxy_app(
                    entry.base_url, name=host, faults=faults, log=RequestLog(), clock=clock,
                    sender=sender, client=client,
                )  # fmt: skip
            else:
                continue
            apps[port] = app
            routes[host] = f"http://127.0.0.1:{port}"
        wire = _InProcessWire(apps)
        ctx = ExecutorContext.create(
            clock=clock,
            wire=wire,
            routes=routes,
            resolver=FaultyResolver(clock, _Offline()),
            profile=profile,
        )
        stack.push_async_callback(ctx.aclose)
        stack.push_async_callback(wire.aclose)
        runner = FlowRunner(flows, ctx, audio_scale=0.0)
        await runner.run_jobs(variables)  # a token cache a scheduled flow fills
        yield _Play(runner, variables)


class _Offline:
    """Every host the project does not serve is unknown: no lookup leaves the machine."""

    async def resolve(self, host: str, lane: str = "") -> str:
        if host == "127.0.0.1":  # a route to an in-process app
            return host
        raise DnsFailure(host, "NXDOMAIN")

    async def routed(self, host: str, lane: str = "") -> None:
        return None


class _InProcessWire:
    """The executor's wire to in-process ASGI apps, one per "port" of a route."""

    def __init__(self, apps: Mapping[int, Any]) -> None:
        self._clients = {
            port: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stub")
            for port, app in apps.items()
        }

    async def send(self, request: WireRequest, cap_bytes: int) -> WireResponse:
        url = httpx.URL(request.url)
        client = self._clients.get(url.port or 0)
        if client is None:
            raise WireError("connection_error", "ECONNREFUSED", request.url)
        response = await client.request(
            request.method,
            url.copy_with(scheme="http", host="stub", port=None),
            headers=dict(request.headers),
            content=request.content,
        )
        body = response.content
        return WireResponse(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=body[: cap_bytes + 1],
            truncated=len(body) > cap_bytes,
        )

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
