"""HTTP step rules: IVR001-IVR005, IVR016 literal-secret and IVR020 malformed-url."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from harness.flow.budget import step_budget
from harness.flow.expr import mask_placeholders, placeholders
from harness.flow.lint.context import Issue, LintContext, strings

__all__ = [
    "check_literal_secrets",
    "check_malformed_url",
    "check_missing_timeout",
    "check_retry_4xx",
    "check_slow_timeout",
    "check_token_path",
    "check_unsafe_retry",
]

CUSTOMER_TIMEOUT_MS = 5000
_TRANSIENT_4XX = frozenset({408, 429})  # the request may succeed as sent: retrying is fine
_UNSAFE_METHODS = frozenset({"POST", "PATCH"})
_IDEMPOTENCY_HEADERS = frozenset({"idempotency-key", "x-idempotency-key"})
_SECRET_FIELDS = ("clientSecret", "headerValue", "password")
_SECRET_NAME = re.compile(r"(secret|password|passwd|token|api_?key)", re.IGNORECASE)
_TOKEN_LIKE = re.compile(
    r"(eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*"  # a JWT
    r"|\b(?:sk|pk|rk)_(?:live|test)_\w{8,}"  # vendor API keys
    r"|\bBearer\s+(?!\{\{)[\w\-.~+/]{16,}=*"  # a literal bearer token
    r"|\b[A-Fa-f0-9]{40,}\b)"  # long hex: keys, hashes of secrets
)


def _retry(cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    retry = cfg.get("retryPolicy")
    return retry if isinstance(retry, Mapping) else {}


def check_missing_timeout(ctx: LintContext) -> Iterator[Issue]:
    """IVR001: no explicit timeout means the platform's 30 s default."""
    default = ctx.profile.default_timeout_ms
    for flow in ctx.flows:
        for step in flow.http_steps():
            if "timeout" not in step.config:
                yield ctx.issue(
                    "IVR001",
                    flow,
                    step,
                    f"{step.pointer}/configuration",
                    f"no timeout: the platform default of {default} ms applies to every attempt",
                )


def check_slow_timeout(ctx: LintContext) -> Iterator[Issue]:
    """IVR002: a caller-facing step with a timeout over 5000 ms."""
    for flow in ctx.flows:
        if not ctx.caller_facing(flow):
            continue
        for step in flow.http_steps():
            timeout = step.config.get("timeout", ctx.profile.default_timeout_ms)
            if int(timeout) > CUSTOMER_TIMEOUT_MS:
                pointer = f"{step.pointer}/configuration"
                pointer += "/timeout" if "timeout" in step.config else ""
                yield ctx.issue(
                    "IVR002",
                    flow,
                    step,
                    pointer,
                    f"timeout {timeout} ms on a caller-facing step (at most {CUSTOMER_TIMEOUT_MS})",
                )


def check_retry_4xx(ctx: LintContext) -> Iterator[Issue]:
    """IVR003: retryOnStatusCodes holds a client error."""
    for flow in ctx.flows:
        for step in flow.http_steps():
            codes = [c for c in _retry(step.config).get("retryOnStatusCodes", [])]
            bad = [c for c in codes if 400 <= int(c) < 500 and int(c) not in _TRANSIENT_4XX]
            if bad:
                index = codes.index(bad[0])
                yield ctx.issue(
                    "IVR003",
                    flow,
                    step,
                    f"{step.pointer}/configuration/retryPolicy/retryOnStatusCodes/{index}",
                    f"retries on {', '.join(map(str, bad))}: a client error fails the same "
                    "way again",
                )


def check_unsafe_retry(ctx: LintContext) -> Iterator[Issue]:
    """IVR004: a non-idempotent method retried without an idempotency key."""
    for flow in ctx.flows:
        for step in flow.http_steps():
            method = str(step.config.get("method", "")).upper()
            retries = int(_retry(step.config).get("maxRetries", 0))
            headers = {str(h).lower() for h in step.config.get("headers", {})}
            if _client_credentials_grant(step.config.get("body")):
                continue  # RFC 6749 4.4: a token request creates nothing; retrying it is safe
            if method in _UNSAFE_METHODS and retries > 0 and not headers & _IDEMPOTENCY_HEADERS:
                yield ctx.issue(
                    "IVR004",
                    flow,
                    step,
                    f"{step.pointer}/configuration/retryPolicy/maxRetries",
                    f"{method} retried up to {retries} time(s) without an Idempotency-Key header",
                )


def _client_credentials_grant(body: object) -> bool:
    text = body if isinstance(body, str) else ""
    return "grant_type=client_credentials" in text.replace(" ", "")


def check_token_path(ctx: LintContext) -> Iterator[Issue]:
    """IVR005: an oauth2 step a caller waits on fetches its token inline on a cold cache."""
    for flow in ctx.flows:
        if not ctx.caller_facing(flow):
            continue
        for step in flow.http_steps():
            auth = step.config.get("authentication")
            if not isinstance(auth, Mapping) or auth.get("type") != "oauth2":
                continue
            sb = step_budget(step, flow, ctx.profile)
            yield ctx.issue(
                "IVR005",
                flow,
                step,
                f"{step.pointer}/configuration/authentication",
                f"token endpoint on the caller path: a cold cache adds up to "
                f"{sb.token_ms + sb.auth_retry_ms} ms (inline fetches and the re-auth retry; "
                f"step worst case {sb.worst_ms} ms)",
            )


def check_malformed_url(ctx: LintContext) -> Iterator[Issue]:
    """IVR020: a URL no request can go to (a scheme other than http(s), no host, a port
    outside 1-65535, a broken IPv6 literal), read with every placeholder standing for '1'."""
    for flow in ctx.flows:
        for step in flow.http_steps():
            url = step.config.get("url")
            if not isinstance(url, str):
                continue
            problem = _url_problem(url)
            if problem:
                shown = url if len(url) <= 80 else url[:77] + "..."
                pointer = f"{step.pointer}/configuration/url"
                yield ctx.issue("IVR020", flow, step, pointer, f"'{shown}' {problem}")


def _url_problem(template: str) -> str:
    scheme_end = template.find("://")
    head = template[: scheme_end if scheme_end >= 0 else len(template)]
    if "{{" in head:
        return ""  # the scheme (or the whole URL) comes from a variable: known at run time
    try:
        parts = urlsplit(mask_placeholders(template, "1"))
        port = parts.port
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"has scheme '{parts.scheme}': an HTTP step sends http or https only"
    if not parts.hostname:
        return "has no host"
    if port == 0:
        return "has port 0: no server listens there"
    return ""


def check_literal_secrets(ctx: LintContext) -> Iterator[Issue]:
    """IVR016: a credential written as a literal, or a token-looking literal anywhere."""
    for flow in ctx.flows:
        for name, value in flow.variables.items():
            if isinstance(value, str) and value and _SECRET_NAME.search(name):
                yield ctx.issue(
                    "IVR016",
                    flow,
                    None,
                    f"/variables/{name}",
                    f"flow variable '{name}' holds a literal secret",
                )
        for step in flow.steps:
            yield from _step_secrets(ctx, flow, step)


def _step_secrets(ctx: LintContext, flow: Any, step: Any) -> Iterator[Issue]:
    auth = step.config.get("authentication")
    flagged: set[str] = set()
    if isinstance(auth, Mapping):
        for field in _SECRET_FIELDS:
            value = auth.get(field)
            if isinstance(value, str) and value and not placeholders(value):
                pointer = f"{step.pointer}/configuration/authentication/{field}"
                flagged.add(pointer)
                yield ctx.issue("IVR016", flow, step, pointer, f"'{field}' is a literal secret")
    for pointer, text in strings(step.config, f"{step.pointer}/configuration"):
        if pointer not in flagged and _TOKEN_LIKE.search(text):
            yield ctx.issue("IVR016", flow, step, pointer, "a token-looking literal")
