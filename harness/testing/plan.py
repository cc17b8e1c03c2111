"""What the generator decides before it writes anything: a plan drawn with Hypothesis.

Every choice is a Hypothesis draw, ordered so that shrinking moves toward the plainest
IVR: one HTTP step, the first theme, no sub-flow, no menu, no breaker, no 202. The
plan is then assembled into documents by `harness.testing.assemble`, deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import strategies as st

from harness.testing.themes import THEMES, Input, Resource, Theme

__all__ = ["CallPlan", "HostPlan", "IvrPlan", "ServicePlan", "plans"]

T = TypeVar("T")

# Two calls in one service: the first one's answer feeds the second.
_PAIRS = (("search", "submit"), ("lookup", "update"), ("lookup", "search"), ("lookup", "count"))
_KINDS = ("lookup", "search", "submit", "count", "update")


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class HostPlan:
    role: str  # host name prefix: api -> api.<domain>
    auth: str  # apiKey | basic | token (a bearer token cached by a scheduled flow)
    key_header: str
    breaker: str  # none | host (one breaker per backend) | step
    base_path: str
    version: str


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CallPlan:
    kind: str  # lookup | search | count | submit | update
    resource: Resource
    host: int
    source: str  # id | ani | second | chained: what identifies the request
    nested: bool  # search/count under the caller's record: /v1/patients/{id}/slots
    timeout_ms: int
    retries: int
    backoff: str
    initial_ms: int
    max_delay_ms: int | None
    retry_statuses: tuple[int, ...]
    retry_on_timeout: bool
    jitter: bool
    threshold: int
    cooldown_ms: int
    style: str  # outcome | status: how the router names outcome classes
    success_first: bool
    breaker_branch: bool
    timeout_route: str  # default | branch | step (onTimeoutStepId)
    auth_branch: bool
    busy_prompt: bool
    default_response: bool
    asynchronous: bool  # submit: also 202 + callback, with a bounded Wait
    wait_ms: int
    progress_ms: int
    pattern: bool  # the spec's parameter declares the pattern the guard enforces
    strict_body: bool  # additionalProperties: false on the request body
    list_key: str
    second_field: bool  # also map and speak a second field


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ServicePlan:
    name: str
    calls: tuple[CallPlan, ...]
    subflow: bool
    soft: bool  # a failure is announced and the call goes on, instead of to an agent
    confirm: bool  # "press 1 to book it" between the two calls
    second_input: Input | None
    second_guard: str
    second_value: int


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class IvrPlan:
    theme: Theme
    hosts: tuple[HostPlan, ...]
    id_guard: str  # length | regex | regex-leading
    id_value: int
    id_pattern: bool
    services: tuple[ServicePlan, ...]
    menu: bool
    agent_terminal: str  # transfer | voicemail
    goodbye: str  # hangup | transfer
    dead_air_ms: int
    margin_ms: int

    @property
    def http_count(self) -> int:
        return sum(len(s.calls) for s in self.services)

    def __repr__(self) -> str:
        # Short: Hypothesis prints it for every failing example (the folder has the rest).
        services = "; ".join(
            ("subflow " if s.subflow else "") + " then ".join(
                f"{c.kind} {c.resource.plural} on host {c.host}" for c in s.calls)
            for s in self.services
        )  # fmt: skip
        return f"<plan {self.theme.name}{' with a menu' if self.menu else ''}: {services}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


class _Draw:
    def __init__(self, draw: Any) -> None:
        self._draw = draw

    def pick(self, options: Sequence[T]) -> T:
        value: T = self._draw(st.sampled_from(list(options)))
        return value

    def flag(self) -> bool:
        return bool(self._draw(st.booleans()))

    def int(self, low: int, high: int) -> int:
        return int(self._draw(st.integers(low, high)))


@st.composite
def plans(draw: Any, min_http_steps: int = 1, max_http_steps: int = 8) -> IvrPlan:
    """An IVR plan with between `min_http_steps` and `max_http_steps` HTTP steps."""
    d = _Draw(draw)
    theme = d.pick(THEMES)
    size = d.int(min_http_steps, max_http_steps)
    hosts = tuple(_host(d, theme, i) for i in range(d.int(1, min(3, size))))
    pool = _Pool(theme)
    services: list[ServicePlan] = []
    remaining = size
    while remaining > 0:
        pair = d.flag() and remaining >= 2
        services.append(_service(d, theme, pool, len(services), len(hosts), pair))
        remaining -= len(services[-1].calls)
    return IvrPlan(
        theme=theme,
        hosts=hosts,
        id_guard=d.pick(("length", "regex", "regex-leading")),
        id_value=d.int(10 ** (theme.id_input.digits - 1), 10**theme.id_input.digits - 1),
        id_pattern=d.flag(),
        services=tuple(services),
        menu=d.flag() and len(services) > 1,
        agent_terminal=d.pick(("transfer", "voicemail")),
        goodbye=d.pick(("hangup", "transfer")),
        dead_air_ms=d.pick((8000, 10000, 6000)),
        margin_ms=d.pick((1000, 500, 2000)),
    )


def _host(d: _Draw, theme: Theme, index: int) -> HostPlan:
    return HostPlan(
        role=theme.hosts[index],
        auth=d.pick(("apiKey", "basic", "token")),
        key_header=d.pick(("X-API-Key", "X-Api-Key", "Api-Key")),
        breaker=d.pick(("none", "host", "step")),
        base_path=d.pick(("", "/api")),
        version=d.pick(("v1", "v2")),
    )


class _Pool:
    """Resources not used yet, so two steps never call the same operation."""

    def __init__(self, theme: Theme) -> None:
        lists = list(theme.lists)  # a search and a count read the same collections
        self.left = {
            "lookup": list(theme.records),
            "search": lists,
            "count": lists,
            "submit": list(theme.creates),
            "update": list(theme.updates),
        }

    def kinds(self, wanted: Sequence[str]) -> list[str]:
        return [k for k in wanted if self.left[k]]

    def take(self, d: _Draw, kind: str) -> Resource:
        resource = d.pick(self.left[kind])
        self.left[kind].remove(resource)
        return resource


def _service(
    d: _Draw, theme: Theme, pool: _Pool, index: int, hosts: int, pair: bool
) -> ServicePlan:
    # Every draw happens whatever the earlier ones chose, so the shortest choice sequence
    # is also the plainest IVR (Hypothesis shrinks the sequence, shortest first).
    pairs = [p for p in _PAIRS if all(pool.kinds([k]) for k in p)]
    single = (d.pick(pool.kinds(_KINDS)),)
    paired = d.pick(pairs) if pairs else single
    kinds: tuple[str, ...] = paired if pair and pairs else single
    asks_second, second_input = d.flag(), d.pick(theme.second_inputs)
    second = second_input if asks_second and kinds[0] in ("search", "count") else None
    calls = []
    for position, kind in enumerate(kinds):
        resource = pool.take(d, kind)
        source = _source(d, kind, second is not None)
        calls.append(_call(d, kind, resource, d.int(0, hosts - 1), source if not position
                           else "chained"))  # fmt: skip
    first = calls[0].resource
    subflow, soft, confirm = d.flag(), d.flag(), d.flag()
    return ServicePlan(
        name=f"{first.singular}" if kinds[0] != "count" else f"{first.singular}-count",
        calls=tuple(calls),
        subflow=subflow,
        soft=index > 0 and soft,
        # "press 1 to book it" is asked in the main flow, between two inline calls
        confirm=confirm and not subflow and len(calls) == 2 and kinds[1] in ("submit", "update"),
        second_input=second,
        second_guard=d.pick(("regex", "length")),
        second_value=d.int(1, 9),
    )


def _source(d: _Draw, kind: str, has_second: bool) -> str:
    by_ani = d.pick(("id", "ani"))
    if has_second:
        return "second"
    return by_ani if kind in ("search", "count") else "id"


def _call(d: _Draw, kind: str, resource: Resource, host: int, source: str) -> CallPlan:
    write = kind in ("submit", "update")
    retries = d.pick((1, 0, 2))
    flags = {name: d.flag() for name in ("nested", "keep_retrying", "default_response",
                                          "asynchronous", "second_field")}  # fmt: skip
    return CallPlan(
        kind=kind,
        resource=resource,
        host=host,
        source=source,
        nested=flags["nested"] and kind in ("search", "count") and source == "id",
        timeout_ms=d.pick((2500, 3000, 2000, 4000, 5000, 1500)),
        retries=min(retries, 1) if write else retries,
        backoff=d.pick(("exponential", "fixed", "none")),
        initial_ms=d.pick((200, 100, 500)),
        max_delay_ms=d.pick((None, 1000, 500)),
        retry_statuses=d.pick(((503,), (502, 503, 504), (429, 503))),
        retry_on_timeout=not write or flags["keep_retrying"],
        jitter=d.flag(),
        threshold=d.pick((3, 5)),
        cooldown_ms=d.pick((30000, 60000)),
        style=d.pick(("outcome", "status")),
        success_first=d.flag(),
        breaker_branch=d.flag(),
        timeout_route=d.pick(("default", "branch", "step")),
        auth_branch=d.flag(),
        busy_prompt=d.flag(),
        default_response=flags["default_response"] and kind in ("lookup", "search"),
        asynchronous=flags["asynchronous"] and kind == "submit",
        wait_ms=d.pick((6000, 10000, 15000)),
        progress_ms=d.pick((3000, 2000, 5000)),
        pattern=d.flag(),
        strict_body=d.flag(),
        list_key=d.pick(("items", "data", resource.plural)),
        second_field=flags["second_field"] and kind in ("lookup", "search"),
    )
