"""Load-time checks of what a scenario names: fault targets, HTTP fault kinds, checks.

The schema cannot know which proxies a run will have or which fault kinds each
reference backend takes; without these checks a typo surfaces mid-run as a KeyError
traceback, or as a harness AssertionError. Each error names the file, the JSON
pointer and, for a name, the closest known one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends.faultspec import KINDS, parse_fault
from harness.backends.server import GUIDE_HOSTS
from harness.backends.state import BACKENDS, fault_kinds
from harness.errors import ConfigError, did_you_mean
from harness.flow.model import FlowSet

if TYPE_CHECKING:
    from harness.scenario.model import Fault

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
    backends = [*BACKENDS, *GUIDE_HOSTS.values(), *sorted(hosts)]
    for index, raw in enumerate(doc.get("expect", ())):
        if "requests" in raw:
            _known(raw["requests"]["backend"], backends, f"/expect/{index}/requests/backend",
                   path, "a backend of this run", noun="backend")  # fmt: skip
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


def _known(
    target: Any,
    known: list[str],
    pointer: str,
    path: Path | None,
    what: str,
    *,
    noun: str = "fault target",
) -> None:
    if target in known:
        return
    hint = did_you_mean(str(target), known) or "known: " + ", ".join(known)
    message = f"{noun} '{target}' is not {what}"
    raise ConfigError(message, file=path, pointer=pointer, hint=hint)


def _check_http(
    spec: Mapping[str, Any], kinds: frozenset[str], pointer: str, path: Path | None
) -> None:
    if spec.get("kind") == "accepted":
        spec = {"callbackUrl": _PLACEHOLDER_CALLBACK, **spec}
        if str(spec["callbackUrl"]).startswith("/"):  # a path on the run's own receiver
            spec["callbackUrl"] = "http://127.0.0.1" + str(spec["callbackUrl"])
    try:
        parse_fault(dict(spec), allowed_kinds=kinds)
    except ConfigError as exc:
        raise ConfigError(
            exc.detail, file=path, pointer=pointer + exc.pointer, hint=exc.hint
        ) from None


def check_steps(
    expect: Sequence[Mapping[str, Any]],
    flow_sets: Sequence[FlowSet],
    file: Path | None,
    faults: Sequence[Fault] = (),
) -> None:
    """Every step an expectation names (`visits`, `never_visits`, `step.id`, ...) is a step
    of one of the suite's flow sets: a typo would otherwise make `never_visits` pass for
    ever. (A step only the fixed flows have is fine: that the defective ones lack it is
    what the expectation finds.) A fault's `step` is an HTTP Request step."""
    known = sorted({s.id for flows in flow_sets for flow in flows for s in flow.steps})
    http = sorted(
        {ref for flows in flow_sets for flow in flows for s in flow.http_steps()
         for ref in (s.id, f"{flow.id}/{s.id}")}
    )  # fmt: skip
    for index, raw in enumerate(expect):
        for key, step_id in _named_steps(raw):
            _known_step(str(step_id).rpartition("/")[2], known, file, f"/expect/{index}/{key}")
    for fault in faults:
        if fault.step and fault.step not in http:
            raise ConfigError(
                f"step '{fault.step}' is no HTTP Request step of the suite's flow sets",
                file=file,
                pointer=f"{fault.pointer}/step",
                hint=did_you_mean(fault.step, http) or "name the HTTP step whose requests to hit",
            )


def _named_steps(raw: Mapping[str, Any]) -> list[tuple[str, Any]]:
    named = [(key, raw[key]) for key in ("visits", "never_visits") if key in raw]
    for key, field in (("step", "id"), ("requests", "step"), ("lands", "after")):
        if isinstance(raw.get(key), Mapping) and field in raw[key]:
            named.append((f"{key}/{field}", raw[key][field]))
    if isinstance(raw.get("lands"), Mapping):
        for field in ("in", "not_in"):
            named += [(f"lands/{field}/{i}", s) for i, s in enumerate(raw["lands"].get(field, ()))]
    return named


def _known_step(step_id: str, known: list[str], file: Path | None, pointer: str) -> None:
    if step_id not in known:
        raise ConfigError(
            f"step '{step_id}' is in no flow of the suite's flow sets",
            file=file,
            pointer=pointer,
            hint=did_you_mean(step_id, known) or "name a step id of the flows",
        )
