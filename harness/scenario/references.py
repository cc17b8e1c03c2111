"""Load-time checks of what a scenario names: fault targets, HTTP fault kinds, checks.

The schema cannot know which proxies a run will have or which fault kinds each
reference backend takes; without these checks a typo surfaces mid-run as a KeyError
traceback, or as a harness AssertionError. Each error names the file, the JSON
pointer and, for a name, the closest known one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.backends.faultspec import KINDS, parse_fault
from harness.backends.server import GUIDE_HOSTS
from harness.backends.state import BACKENDS, fault_kinds
from harness.errors import ConfigError, did_you_mean
from harness.flow.model import FlowSet

__all__ = ["check_references", "check_steps"]

# Expectation keys that qualify a check rather than being one.
_MODIFIERS = frozenset({"title", "calls"})
# The runner fills an `accepted` fault's callback with its own receiver when it is absent.
_PLACEHOLDER_CALLBACK = "http://127.0.0.1/webhooks/placeholder"


def check_references(
    doc: Mapping[str, Any],
    schema: Mapping[str, Any],
    path: Path | None,
    *,
    hosts: Collection[str] = (),
) -> None:
    """Raise a ConfigError for the first reference in a schema-valid scenario that cannot work.

    A fault target is a reference backend (`crm`), the host a flow calls
    (`api.crm-provider.com`), or one of `hosts`, the project's own backends.
    """
    proxied = sorted({*_proxied(doc.get("backends", {})), *GUIDE_HOSTS.values(), *hosts})
    for index, raw in enumerate(doc.get("faults", ())):
        _check_fault(raw, f"/faults/{index}", proxied, set(hosts), path)
    checks = set(schema["$defs"]["expectation"]["properties"]) - _MODIFIERS
    for index, raw in enumerate(doc.get("expect", ())):
        if not checks & set(raw):
            raise ConfigError(
                "this expectation checks nothing",
                file=path,
                pointer=f"/expect/{index}",
                hint="add one of: " + ", ".join(sorted(checks)),
            )


def _proxied(overrides: Mapping[str, str]) -> list[str]:
    """Proxy names a run will have, as the environment names them (host -> backend)."""
    chosen = {host: name for name, host in GUIDE_HOSTS.items()}
    for host, target in overrides.items():
        chosen[host] = target if target in BACKENDS else host.replace(".", "-")
    return sorted(set(chosen.values()))


def _check_fault(
    raw: Mapping[str, Any], pointer: str, proxied: list[str], own: set[str], path: Path | None
) -> None:
    kind = next((k for k in ("toxic", "http", "dns", "disable") if k in raw), "")
    target = raw.get("target")
    if kind in ("toxic", "disable"):
        _known(target, proxied, f"{pointer}/target", path, "a proxied backend")
    elif kind == "http":
        by_host = {host: name for name, host in GUIDE_HOSTS.items()}
        known = [*BACKENDS, *by_host, *sorted(own)]
        _known(target, known, f"{pointer}/target", path, "a backend of this run")
        name = str(target)
        kinds = frozenset(KINDS) if name in own else fault_kinds(by_host.get(name, name))
        _check_http(raw["http"], kinds, f"{pointer}/http", path)
    elif kind == "dns" and not raw["dns"].get("host"):
        if target is None:
            raise ConfigError(
                "a dns fault needs a 'target' or a 'host'",
                file=path,
                pointer=pointer,
                hint="e.g. target: crm, or dns: {host: api.crm-provider.com, ...}",
            )
        known = [*GUIDE_HOSTS, *GUIDE_HOSTS.values(), *sorted(own)]
        _known(target, known, f"{pointer}/target", path, "a backend with a known host")


def _known(target: Any, known: list[str], pointer: str, path: Path | None, what: str) -> None:
    if target in known:
        return
    hint = did_you_mean(str(target), known) or "known: " + ", ".join(known)
    message = f"fault target '{target}' is not {what}"
    raise ConfigError(message, file=path, pointer=pointer, hint=hint)


def _check_http(
    spec: Mapping[str, Any], kinds: frozenset[str], pointer: str, path: Path | None
) -> None:
    if spec.get("kind") == "accepted":
        spec = {"callbackUrl": _PLACEHOLDER_CALLBACK, **spec}
    try:
        parse_fault(dict(spec), allowed_kinds=kinds)
    except ConfigError as exc:
        raise ConfigError(
            exc.detail, file=path, pointer=pointer + exc.pointer, hint=exc.hint
        ) from None


def check_steps(
    expect: Sequence[Mapping[str, Any]], flow_sets: Sequence[FlowSet], file: Path | None
) -> None:
    """Every step an expectation names (`visits`, `never_visits`, `step.id`) is a step of
    one of the suite's flow sets: a typo would otherwise make `never_visits` pass for
    ever. (A step only the fixed flows have is fine: that the defective ones lack it is
    what the expectation finds.)"""
    known = sorted({s.id for flows in flow_sets for flow in flows for s in flow.steps})
    for index, raw in enumerate(expect):
        named = [(key, raw[key]) for key in ("visits", "never_visits") if key in raw]
        if isinstance(raw.get("step"), Mapping) and "id" in raw["step"]:
            named.append(("step/id", raw["step"]["id"]))
        for key, step_id in named:
            if str(step_id) not in known:
                raise ConfigError(
                    f"step '{step_id}' is in no flow of the suite's flow sets",
                    file=file,
                    pointer=f"/expect/{index}/{key}",
                    hint=did_you_mean(str(step_id), known) or "name a step id of the flows",
                )
