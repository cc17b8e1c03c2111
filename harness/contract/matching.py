"""Match an HTTP step to an operation: method + path template + server host.

A step URL is a template (``https://api.crm-provider.com/v2/accounts?phone={{p}}``);
placeholders are masked before the URL is split, so a ``{{var}}`` segment can only stand
for a ``{param}`` segment of the spec's path template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.contract.openapi import Operation, Spec
from harness.flow.expr import mask_placeholders

__all__ = ["Match", "NamedSpec", "StepUrl", "choose_specs", "match_operation", "split_url"]

_MASK = "\x00"


@dataclass(frozen=True, slots=True, kw_only=True)
class NamedSpec:
    """A spec given on the command line as ``NAME=SPEC`` (name '' when none was given)."""

    name: str
    spec: Spec


@dataclass(frozen=True, slots=True, kw_only=True)
class StepUrl:
    """The static shape of a step's URL template."""

    host: str | None
    segments: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """The operation a step calls, in which spec; ``reason`` explains a failed match."""

    spec: NamedSpec | None
    operation: Operation | None
    reason: str = ""


def split_url(template: str) -> StepUrl:
    """Host and path segments of a URL template (a masked segment holds a placeholder)."""
    masked = mask_placeholders(template, _MASK)
    try:
        parts = urlsplit(masked)
        host = parts.hostname if parts.netloc and _MASK not in parts.netloc else None
    except ValueError:
        return StepUrl(host=None, segments=())
    return StepUrl(host=host, segments=tuple(s for s in parts.path.split("/") if s))


def choose_specs(url: StepUrl, specs: Sequence[NamedSpec]) -> list[NamedSpec]:
    """The specs that may describe ``url``: by the given NAME (a host or a title) first,
    then by the spec's own server hosts, then every spec without a host."""
    if url.host is not None:
        named = [s for s in specs if s.name and s.name.lower() == url.host.lower()]
        if named:
            return named
        by_server = [s for s in specs if any(_host_is(v.host, url.host) for v in s.spec.servers)]
        if by_server:
            return by_server
    return [s for s in specs if not s.name and not any(v.host for v in s.spec.servers)] or [
        s for s in specs if s.name and s.name == s.spec.title
    ]


def _host_is(server_host: str | None, host: str) -> bool:
    return server_host is not None and server_host.lower() == host.lower()


def match_operation(method: str, url: StepUrl, specs: Sequence[NamedSpec]) -> Match:
    """The single best operation for ``method`` + ``url`` among ``specs``."""
    candidates = choose_specs(url, specs)
    if not candidates:
        return Match(spec=None, operation=None, reason=f"no spec given for host {url.host}")
    for named in candidates:
        found = _best(named.spec, method.lower(), url)
        if found is not None:
            return Match(spec=named, operation=found)
    wanted = "/" + "/".join(s.replace(_MASK, "{{…}}") for s in url.segments)
    known = ", ".join(op.label for op in candidates[0].spec.operations[:8]) or "none"
    return Match(
        spec=candidates[0],
        operation=None,
        reason=f"no operation {method.upper()} {wanted} in {candidates[0].spec.name} "
        f"(it has: {known})",
    )


def _best(spec: Spec, method: str, url: StepUrl) -> Operation | None:
    scored: list[tuple[int, Operation]] = []
    for op in spec.operations:
        if op.method != method:
            continue
        for base in _base_paths(spec, url.host):
            score = _score(base + _segments(op.path), url.segments)
            if score is not None:
                scored.append((score, op))
    # The most literal segments wins: /v1/tickets/jobs/{id} over /v1/tickets/{a}/{b}.
    return max(scored, key=lambda pair: pair[0])[1] if scored else None


def _base_paths(spec: Spec, host: str | None) -> list[tuple[str, ...]]:
    bases = [_segments(s.base_path) for s in spec.servers if host is None or _host_ok(s, host)]
    return bases or [()]


def _host_ok(server: object, host: str) -> bool:
    server_host = getattr(server, "host", None)
    return server_host is None or server_host.lower() == host.lower()


def _segments(path: str) -> tuple[str, ...]:
    return tuple(s for s in path.split("/") if s)


def _score(template: Sequence[str], actual: Sequence[str]) -> int | None:
    if len(template) != len(actual):
        return None
    score = 0
    for want, got in zip(template, actual, strict=True):
        if _is_param(want):
            continue
        if _MASK in got or want != got:
            return None
        score += 1
    return score


def _is_param(segment: str) -> bool:
    return "{" in segment and "}" in segment


def path_parameters(op: Operation, url: StepUrl, spec: Spec) -> Mapping[str, int]:
    """Index of the URL segment that carries each ``{name}`` path parameter."""
    base = _base_paths(spec, url.host)[0]
    found: dict[str, int] = {}
    for index, want in enumerate(base + _segments(op.path)):
        match = re.fullmatch(r"\{([^}]+)\}", want)
        if match:
            found[match.group(1)] = index
    return found
