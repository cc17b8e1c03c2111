"""The provider contract: schemathesis against a live backend, through its Python API.

Each operation is driven by ``operation.as_strategy()`` under a small, seeded Hypothesis
run; every response goes through the checks in :data:`CHECKS`. When the spec has
``links``, schemathesis' state machine then walks them (create -> read). Failures are
collected, never raised, so one run reports every broken operation.

Answers 401/403 are an authentication problem (credentials missing, rejected or short
of a scope), never a contract failure: they are counted apart and make the run exit 2.
A spec that requires security while no credentials were given stops the run before the
first call (:mod:`harness.contract.security`). ``seed`` makes a run replayable: the same
seed, spec and backend give the same requests.

``case.call`` is synchronous (requests); call :func:`run_provider` from a thread, never
from a running event loop that also serves the backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from harness.contract.auth import ProviderAuth
from harness.contract.examples import SpecDefect, example_defects
from harness.contract.openapi import escape, load_spec
from harness.contract.security import require_credentials
from harness.errors import ConfigError, UnreachableError, UnsafeTargetError
from harness.events import Redactor
from harness.flow.credentials import basic_header
from harness.loopback import is_loopback

__all__ = ["CHECKS", "OperationResult", "ProviderReport", "check_base_url", "run_provider"]

# Positive-data conformance only: on a correct backend these never fire. See
# docs/contracts.md for the excluded ones (negative_data_rejection, ...).
CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass(slots=True, kw_only=True)
class OperationResult:
    """What happened to one operation (or the stateful phase): calls and failures."""

    label: str
    calls: int = 0
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    auth: dict[int, int] = field(default_factory=dict)  # 401/403 -> how many answers


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderReport:
    """Backend failures, spec defects, and harness errors of one provider run."""

    spec: str
    base_url: str
    operations: tuple[OperationResult, ...]
    spec_defects: tuple[SpecDefect, ...]
    notes: tuple[str, ...] = ()
    seed: int | None = None

    @property
    def failed(self) -> bool:
        return bool(self.spec_defects) or any(o.failures or o.errors for o in self.operations)

    @property
    def auth_problems(self) -> list[str]:
        """One line per operation answered 401/403: an authentication problem."""
        return [
            f"{o.label}: "
            + ", ".join(f"{n} answers {code}" for code, n in sorted(o.auth.items()))
            + " -- authentication problem (credentials missing, rejected or short of a "
            "scope), not a contract failure"
            for o in self.operations
            if o.auth
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "base_url": self.base_url,
            "failed": self.failed,
            "operations": [
                {
                    "label": o.label,
                    "calls": o.calls,
                    "failures": o.failures,
                    "errors": o.errors,
                    "auth": {str(k): v for k, v in o.auth.items()},
                }
                for o in self.operations
            ],
            "auth_problems": self.auth_problems,
            "seed": self.seed,
            "spec_defects": [
                {"pointer": d.pointer, "schema_pointer": d.schema_pointer, "message": d.message}
                for d in self.spec_defects
            ],
            "notes": list(self.notes),
        }


def check_base_url(base_url: str, *, allow_non_loopback: bool = False) -> None:
    """Refuse non-loopback targets (unless allowed) and unreachable ones (exit 2)."""
    try:
        parts = urlsplit(base_url)
        host = parts.hostname
    except ValueError:
        host = None
    if not host or parts.scheme not in ("http", "https"):
        raise ConfigError(f"not an http(s) URL: {base_url!r}", file="--base-url")
    if not allow_non_loopback and not is_loopback(host):
        raise UnsafeTargetError(
            f"refusing non-loopback base URL {base_url}; pass --allow-non-loopback if you mean it"
        )
    try:
        httpx.get(base_url, timeout=3.0)
    except httpx.HTTPError as exc:
        raise UnreachableError(f"cannot reach {base_url}: {type(exc).__name__}") from None


def run_provider(
    spec_path: Path,
    base_url: str,
    *,
    auth: ProviderAuth | None = None,
    max_examples: int = 20,
    max_time: float | None = None,
    allow_non_loopback: bool = False,
    seed: int | None = None,
) -> ProviderReport:
    """Run the provider checks; raises HarnessError only when the run cannot happen.

    ``seed`` None: Hypothesis derandomized (the same run every time); a seed: that run.
    """
    spec = load_spec(spec_path)  # exit 2 with file + pointer for unparseable specs
    check_base_url(base_url, allow_non_loopback=allow_non_loopback)
    require_credentials(spec, auth or ProviderAuth())
    resolved = (auth or ProviderAuth()).resolved()
    try:
        schema = schemathesis.openapi.from_path(spec_path)
    except Exception as exc:  # schemathesis rejects what it cannot load; that is input
        raise ConfigError(f"schemathesis cannot load the spec: {exc}", file=spec_path) from None
    deadline = time.monotonic() + max_time if max_time else None
    defects, spec_notes = example_defects(spec)
    runner = _Runner(
        base_url=base_url,
        auth=resolved,
        deadline=deadline,
        examples=max_examples,
        seed=seed,
        defective=tuple(d.pointer for d in defects),
    )
    operations, notes = runner.all_operations(schema)
    return ProviderReport(
        spec=spec.name,
        base_url=base_url,
        operations=tuple(operations),
        spec_defects=tuple(defects),
        notes=tuple(notes + spec_notes),
        seed=seed,
    )


@dataclass(slots=True, kw_only=True)
class _Runner:
    base_url: str
    auth: ProviderAuth
    deadline: float | None
    examples: int
    seed: int | None = None
    defective: tuple[str, ...] = ()  # pointers of examples that break their own schema
    redactor: Redactor = field(default_factory=Redactor)

    def __post_init__(self) -> None:
        # Failure text quotes requests (curl reproductions, messages): keep credentials out.
        values = self.auth.secrets
        self.redactor.add(*values, *[v.split(" ", 1)[-1] for v in values])
        if self.auth.basic:
            self.redactor.add_basic(*self.auth.basic)

    def settings(self, *, explicit: bool = True, **extra: Any) -> settings:
        return settings(
            max_examples=self.examples,
            deadline=None,
            derandomize=self.seed is None,
            database=None,
            phases=[Phase.explicit, Phase.generate] if explicit else [Phase.generate],
            suppress_health_check=list(HealthCheck),
            **extra,
        )

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def all_operations(self, schema: Any) -> tuple[list[OperationResult], list[str]]:
        results: list[OperationResult] = []
        notes: list[str] = []
        for item in schema.get_all_operations():
            operation = item.ok() if hasattr(item, "ok") else item
            if operation is None:
                notes.append(f"operation skipped: {item.err()}")
                continue
            results.append(self.operation(operation))
        if self.has_links(schema) and not self.expired():
            results.append(self.stateful(schema))
        return results, notes

    def kwargs(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"base_url": self.base_url, "headers": dict(self.auth.headers)}
        if self.auth.query:
            extra["params"] = dict(self.auth.query)
        if self.auth.cookies:
            extra["cookies"] = dict(self.auth.cookies)
        if self.auth.basic:
            extra["auth"] = self.auth.basic
        return extra

    def operation(self, operation: Any) -> OperationResult:
        result = OperationResult(label=f"{operation.method.upper()} {operation.path}")
        # A broken spec example is one spec defect; sending it would add a backend
        # "failure" per example, blaming the backend for the spec's mistake.
        at = f"#/paths/{escape(operation.path)}/{operation.method.lower()}/"
        explicit = not any(p.startswith(at) for p in self.defective)

        @given(case=operation.as_strategy())
        @self.settings(explicit=explicit)
        def drive(case: schemathesis.Case[Any]) -> None:
            if self.expired():
                return
            self.one(case, result)

        if self.seed is not None:
            drive = hypothesis_seed(self.seed)(drive)
        try:
            drive()
        except Exception as exc:  # a strategy schemathesis cannot build is a spec problem
            result.errors.append(f"cannot generate requests: {type(exc).__name__}: {exc}")
        return result

    def one(self, case: schemathesis.Case[Any], result: OperationResult) -> None:
        result.calls += 1
        try:
            response = case.call(timeout=10, **self.kwargs())
        except Exception as exc:  # requests' errors: the backend dropped the connection
            _add(result.errors, f"request failed: {type(exc).__name__}")
            return
        if response.status_code in (401, 403) and self.sent_credentials(response):
            result.auth[response.status_code] = result.auth.get(response.status_code, 0) + 1
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                _add(result.failures, self.redactor(_describe(failure, case, self.base_url)))
        except Failure as failure:
            _add(result.failures, self.redactor(_describe(failure, case, self.base_url)))

    def sent_credentials(self, response: Any) -> bool:
        """Whether the request carried our credentials as given.

        Schemathesis also generates the spec's own auth parameters (an `X-API-Key`
        header parameter, say) with values of its own; a 401 to those is the backend
        rightly refusing them, judged by the spec like any answer, not an auth problem.
        """
        request = getattr(response, "request", None)
        headers = getattr(request, "headers", None)
        if headers is None:
            return True
        if any(headers.get(name) != value for name, value in self.auth.headers.items()):
            return False
        query = parse_qs(urlsplit(str(getattr(request, "url", ""))).query)
        if any(query.get(name) != [value] for name, value in self.auth.query.items()):
            return False
        cookie = str(headers.get("Cookie", ""))
        if any(f"{name}={value}" not in cookie for name, value in self.auth.cookies.items()):
            return False
        if self.auth.basic and headers.get("Authorization") != basic_header(*self.auth.basic):
            return False
        return True

    def has_links(self, schema: Any) -> bool:
        try:
            return int(schema.statistic.transitions.total) > 0
        except AttributeError:
            return False

    def stateful(self, schema: Any) -> OperationResult:
        result = OperationResult(label="stateful (links)")
        runner = self

        class Machine(schema.as_state_machine()):  # type: ignore[misc]
            def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
                result.calls += 1
                return runner.kwargs() | {"timeout": 10}

            def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
                if response.status_code in (401, 403) and runner.sent_credentials(response):
                    code = response.status_code
                    result.auth[code] = result.auth.get(code, 0) + 1
                    return
                try:
                    case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)
                except FailureGroup as group:
                    for failure in group.exceptions:
                        _add(
                            result.failures,
                            runner.redactor(_describe(failure, case, runner.base_url)),
                        )

        try:
            Machine.run(settings=self.settings(stateful_step_count=4))
        except Exception as exc:  # the machine re-raises what a step raised; keep it
            _add(result.errors, self.redactor(f"stateful run stopped: {type(exc).__name__}: {exc}"))
        return result


def _add(bucket: list[str], text: str) -> None:
    if text not in bucket and len(bucket) < 20:
        bucket.append(text)


def _describe(failure: Failure, case: schemathesis.Case[Any], base_url: str) -> str:
    message = (failure.message or "").strip().splitlines()
    detail = f" -- {message[0]}" if message else ""
    try:
        curl = case.as_curl_command(base_url=base_url)
    except Exception:  # reproducing is a courtesy; never let it hide the failure
        curl = ""
    return f"{failure.title}{detail}" + (f"\n    reproduce: {curl}" if curl else "")
