"""Generated IVRs in process: backends that answer what their specs document, or one
step's requests under one fault, on a virtual clock, through the reference executor.

This is the fast in-process layer (`tests/fixtures/inprocess.py`). It is also the
ground truth the planter's labels are checked against: what a caller hears and what a
backend receives when one fault hits one step (`observe`), judged by what is always
wrong (a null spoken, the error tone, dead air over the budget, a write submitted twice
without a shared key, a 4xx sent again, a request carrying a null). The same IVRs run
over real sockets, stubs and the real CLI in `tests/testing/test_population.py`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from hypothesis import HealthCheck, settings

from harness.clock import VirtualClock
from harness.executor.context import ExecutorContext
from harness.executor.resolver import FaultyResolver
from harness.executor.runner import FlowRunner
from harness.executor.timeline import Caller, CallResult
from harness.flow.loader import parse_flow
from harness.flow.model import FlowSet
from harness.testing import HttpStep, Ivr
from tests.fixtures.inprocess import ScriptedWire

# `make test` draws a few IVRs with a fixed seed; the nightly profile
# (HYPOTHESIS_PROFILE=nightly) draws IVR_POPULATION_N (default 200) per property.
NIGHTLY = os.environ.get("HYPOTHESIS_PROFILE") == "nightly"
NIGHTLY_N = int(os.environ.get("IVR_POPULATION_N", "200"))


def population(fast: int) -> settings:
    """Settings for a property over generated IVRs: `fast` examples in the developers'
    loop (derandomized: the same IVRs every run), NIGHTLY_N nightly (random)."""
    quick = {} if NIGHTLY else {"derandomize": True, "database": None}
    return settings(
        max_examples=NIGHTLY_N if NIGHTLY else fast,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        **quick,  # type: ignore[arg-type]
    )


# Every fault class the battery produces, and two that it should.
CLASSES = ("baseline", "timeout", "connection", "400", "401", "403", "404", "429", "5xx",
           "202", "malformed", "too_large", "empty")  # fmt: skip
_STATUS = {"400": 400, "401": 401, "403": 403, "404": 404, "429": 429, "5xx": 503}


def flow_set(flows: Mapping[str, Mapping[str, Any]]) -> FlowSet:
    parsed = [parse_flow(dict(d), source=json.dumps(d)) for d in flows.values()]
    return FlowSet(flows={f.id: f for f in parsed})


def classes_of(ivr: Ivr, step: HttpStep) -> list[str]:
    """The battery's classes for a step, with one drift per mapped field."""
    flow = next(d for d in ivr.flows.values() if d["id"] == step.flow_id)
    config = next(s for s in flow["steps"] if s["id"] == step.step_id)["configuration"]
    fields = {_field(p) for p in config.get("responseMapping", {}).values()}
    return [*CLASSES, *(f"drift-{f}" for f in sorted(fields) if f)]


def _field(path: str) -> str:
    text = path.split("?")[1].split(":")[0] if "?" in path else path
    names = [n for n in text.replace("[0]", "").strip().split(".") if n not in ("$", "length")]
    return names[-1] if names else ""


class Backends:
    """Answers every documented operation with its documented success example; the
    requests of `faulted` (method + path template on its host) get the fault `cls`."""

    def __init__(self, ivr: Ivr, clock: VirtualClock, faulted: HttpStep | None = None,
                 cls: str = "baseline") -> None:  # fmt: skip
        self.clock, self.faulted, self.cls = clock, faulted, cls
        self.routes: list[tuple[str, str, re.Pattern[str], int, Any]] = []
        self.requests: list[httpx.Request] = []
        self.hits: list[httpx.Request] = []  # the faulted step's requests
        for host, spec in ivr.specs.items():
            base = urlsplit(spec["servers"][0]["url"]).path
            for path, item in spec["paths"].items():
                pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", base + path) + "$")
                for method, op in item.items():
                    status = min(int(s) for s in op["responses"] if s.startswith("2"))
                    media = op["responses"][str(status)].get("content", {})
                    example = media.get("application/json", {}).get("example")
                    self.routes.append((host, method.upper(), pattern, status, example))

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        called = request.headers.get("host", request.url.host).split(":")[0]
        for host, method, pattern, status, example in self.routes:
            if (called, request.method) == (host, method) and pattern.match(request.url.path):
                if self._is_faulted(called, request, pattern):
                    self.hits.append(request)
                    return await self._fault(status, example)
                return httpx.Response(status, json=example)
        return httpx.Response(404, json={"error": "not_found"})

    def _is_faulted(self, host: str, request: httpx.Request, pattern: re.Pattern[str]) -> bool:
        step = self.faulted
        if step is None or (host, request.method) != (step.host, step.method):
            return False
        own = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", step.path) + "$")
        return own.pattern == pattern.pattern

    async def _fault(self, status: int, example: Any) -> httpx.Response:
        cls = self.cls
        if cls == "timeout":
            await self.clock.sleep(120)  # past any timeout: the attempt's deadline fires
        if cls == "connection":
            raise httpx.ConnectError("refused")
        if cls in _STATUS:
            code = _STATUS[cls]
            headers = {"Retry-After": "1"} if code in (429, 503) else {}
            return httpx.Response(code, json={"error": "fault"}, headers=headers)
        if cls == "202":
            return httpx.Response(202, json={"job_id": "JOB-1", "status": "pending"},
                                  headers={"Location": "/jobs/JOB-1"})  # fmt: skip
        if cls == "malformed":
            return httpx.Response(200, content=b'{"truncat', headers={"content-type":
                                  "application/json"})  # fmt: skip
        if cls == "too_large":
            return httpx.Response(200, json={**(example or {}), "padding": "x" * 40_000})
        if cls == "empty":
            return httpx.Response(status, json=_emptied(example))
        if cls.startswith("drift-"):
            name = cls.removeprefix("drift-")
            return httpx.Response(status, json=_renamed(example, name))
        return httpx.Response(status, json=example)


def _emptied(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: ([] if isinstance(v, list) else v) for k, v in body.items()}
    return body


def _renamed(body: Any, name: str) -> Any:
    if isinstance(body, dict):
        return {(f"{k}_renamed" if k == name else k): _renamed(v, name) for k, v in body.items()}
    if isinstance(body, list):
        return [_renamed(v, name) for v in body]
    return body


async def call(
    ivr: Ivr,
    dtmf: tuple[str, ...],
    flows: Mapping[str, Mapping[str, Any]] | None = None,
    faulted: HttpStep | None = None,
    cls: str = "baseline",
    calls: int = 1,
) -> tuple[list[CallResult], Backends]:
    """`calls` calls one after another (sharing Data Storage, breakers and tokens) into
    the IVR's entry flow, the scheduled jobs run first."""
    clock = VirtualClock()
    backends = Backends(ivr, clock, faulted, cls)
    ctx = ExecutorContext.create(
        clock=clock,
        wire=ScriptedWire(httpx.MockTransport(backends)),
        resolver=FaultyResolver(clock, hosts={h: "127.0.0.1" for h in ivr.specs}),
    )
    secrets = {var: ivr.environment[env] for var, env in ivr.secrets.items()}
    try:
        runner = FlowRunner(flow_set(flows or ivr.flows), ctx, audio_scale=1.0)
        await runner.run_jobs(secrets)
        results = [
            await runner.run_call(ivr.entry, Caller(dtmf=dtmf, call_id=f"call-{n + 1}"), secrets)
            for n in range(calls)
        ]
        return results, backends
    finally:
        await ctx.aclose()


async def healthy_call(ivr: Ivr, dtmf: tuple[str, ...]) -> tuple[CallResult, Backends]:
    results, backends = await call(ivr, dtmf)
    return results[0], backends


async def observe(
    ivr: Ivr, step: HttpStep, cls: str, flows: Mapping[str, Mapping[str, Any]] | None = None
) -> list[str]:
    """What is wrong, for a caller or a backend, when `cls` hits `step`'s requests."""
    documents = flows or ivr.flows
    breaker = "breaker:" in " ".join(step.features)
    storm = cls == "5xx" and breaker
    results, backends = await call(ivr, step.dtmf, documents, step, cls, calls=6 if storm else 1)
    wrong: list[str] = []
    for result in results:
        if result.outcome in ("dead_end", "error"):
            wrong.append(f"{result.call_id} ends in {result.outcome} at {result.terminal_step}")
        if result.max_dead_air_ms > ivr.dead_air_ms:
            wrong.append(f"{result.call_id} silent for {result.max_dead_air_ms:.0f} ms")
        for segment in result.segments:
            prompt = str(segment.detail.get("prompt", ""))
            if segment.step_type == "Play" and (" ." in prompt or "  " in prompt):
                wrong.append(f"{result.call_id} hears a null: {prompt!r}")
        if cls == "baseline":
            routed = [s.detail.get("next") for s in result.segments
                      if (s.flow_id, s.step_id) == (step.flow_id, step.router_id)]  # fmt: skip
            if routed[:1] != [step.success_target]:
                wrong.append(f"a healthy backend leads to {routed[:1]}, not the success branch")
    wrong += _backend_wrongs(backends, step, cls)
    return wrong


def _backend_wrongs(backends: Backends, step: HttpStep, cls: str) -> list[str]:
    wrong = []
    hits = backends.hits
    if cls in ("400", "401", "403", "404") and len(hits) > 1:
        wrong.append(f"{step.step_id}: a {cls} was sent {len(hits)} times")
    if cls == "timeout" and step.method in ("POST", "PATCH") and len(hits) > 1:
        keys = {r.headers.get("idempotency-key") for r in hits}
        if None in keys or len(keys) > 1:
            wrong.append(f"{step.step_id}: submitted {len(hits)} times without one shared key")
    for request in backends.requests:
        path = request.url.path
        if "//" in path or path.endswith("/") or re.search(r"=(&|$)", request.url.query.decode()):
            wrong.append(f"{request.method} {request.url} carries an empty value")
        if request.content and re.search(rb':\s*(null|"")', request.content):
            wrong.append(f"{request.method} {path} body carries a null: {request.content!r}")
    return wrong
