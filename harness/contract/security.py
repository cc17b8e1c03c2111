"""What a spec says about authentication, and the flag that supplies each kind.

A provider run without the credentials a spec requires would only collect 401s and
report them as undocumented statuses; this module lets the run stop first, once, with the
scheme and the option to pass (exit 2). Every OpenAPI 3 security scheme type is named:
``http`` (basic, bearer, other), ``apiKey`` (header, query, cookie), ``oauth2`` (client
credentials) and ``openIdConnect``; Swagger 2.0 ``securityDefinitions`` likewise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from harness.contract.auth import ProviderAuth
from harness.contract.openapi import Spec
from harness.errors import ConfigError

__all__ = ["Scheme", "require_credentials", "required_schemes"]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True, slots=True, kw_only=True)
class Scheme:
    """One security scheme: its name in the spec, what it is, and how to supply it."""

    name: str
    kind: str
    flag: str


def required_schemes(spec: Spec) -> list[Scheme]:
    """The schemes some operation cannot be called without (first alternative of each).

    An operation whose requirements include ``{}`` (anonymous allowed) requires nothing.
    """
    doc = spec.document
    definitions = _definitions(doc)
    found: dict[str, Scheme] = {}
    for requirement in _requirements(doc):
        if not requirement or any(not alt for alt in requirement):
            continue
        for name in requirement[0]:
            found.setdefault(name, describe(name, definitions.get(name)))
    return list(found.values())


def require_credentials(spec: Spec, auth: ProviderAuth) -> None:
    """ConfigError (exit 2, one line) when the spec requires security and ``auth`` is empty."""
    if not auth.is_empty:
        return
    schemes = required_schemes(spec)
    if not schemes:
        return
    first = schemes[0]
    others = f" (also: {', '.join(s.name for s in schemes[1:])})" if len(schemes) > 1 else ""
    raise ConfigError(
        f"the spec requires security scheme '{first.name}' ({first.kind}){others} and no "
        f"credentials were given: pass {first.flag}",
        file=spec.file,
        pointer=_pointer(spec, first.name),
    )


def describe(name: str, scheme: Any) -> Scheme:
    """What scheme ``name`` is and the provider option that supplies it."""
    if not isinstance(scheme, Mapping):
        return Scheme(name=name, kind="undefined scheme", flag="--auth-header NAME=VALUE")
    kind = str(scheme.get("type", ""))
    if kind == "basic" or (kind == "http" and str(scheme.get("scheme", "")).lower() == "basic"):
        return Scheme(name=name, kind="http basic", flag="--auth-basic USER:PASS")
    if kind == "http":
        label = str(scheme.get("scheme", "bearer")).lower()
        return Scheme(name=name, kind=f"http {label}", flag="--auth-bearer TOKEN")
    if kind == "apiKey":
        where, key = str(scheme.get("in", "header")), str(scheme.get("name", "NAME"))
        flag = {"query": "--auth-query", "cookie": "--auth-cookie"}.get(where, "--auth-header")
        return Scheme(name=name, kind=f"apiKey in {where} '{key}'", flag=f"{flag} {key}=VALUE")
    if kind == "oauth2":
        url = _token_url(scheme)
        return Scheme(
            name=name,
            kind="oauth2 client credentials" + (f", token URL {url}" if url else ""),
            flag="--oauth-token-url URL --oauth-client-id ID --oauth-client-secret-env ENV "
            "(or --flows DIR to authenticate as the flows do)",
        )
    if kind == "openIdConnect":
        return Scheme(name=name, kind="openIdConnect", flag="--auth-bearer TOKEN")
    return Scheme(name=name, kind=kind or "unknown type", flag="--auth-header NAME=VALUE")


def _definitions(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    components = doc.get("components")
    if isinstance(components, Mapping) and isinstance(components.get("securitySchemes"), Mapping):
        return components["securitySchemes"]  # type: ignore[no-any-return]
    definitions = doc.get("securityDefinitions")
    return definitions if isinstance(definitions, Mapping) else {}


def _requirements(doc: Mapping[str, Any]) -> Iterator[list[Mapping[str, Any]]]:
    """The effective security requirement list of every operation."""
    top = doc.get("security")
    paths = doc.get("paths")
    for item in paths.values() if isinstance(paths, Mapping) else ():
        if not isinstance(item, Mapping):
            continue
        for method in _METHODS:
            op = item.get(method)
            if isinstance(op, Mapping):
                own = op.get("security", top)
                yield [r for r in own if isinstance(r, Mapping)] if isinstance(own, list) else []


def _token_url(scheme: Mapping[str, Any]) -> str:
    flows = scheme.get("flows")
    if isinstance(flows, Mapping) and isinstance(flows.get("clientCredentials"), Mapping):
        return str(flows["clientCredentials"].get("tokenUrl", ""))
    return str(scheme.get("tokenUrl", ""))  # Swagger 2.0: flow "application"


def _pointer(spec: Spec, name: str) -> str:
    base = "/components/securitySchemes" if spec.version != "2.0" else "/securityDefinitions"
    return f"{base}/{name.replace('~', '~0').replace('/', '~1')}"
