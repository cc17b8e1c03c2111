"""The consumer contract as Pact files (Pact Specification V4), for the backend teams.

One pact per (consumer, provider): the consumer is the IVR (the flow set), the
provider each backend host its HTTP steps call. Every HTTP step matched to an
operation gives one interaction per status the operation documents (the statuses the
flow's router was evaluated on):

    request    the step's request rendered with the simplest plausible values the
               consumer check draws (method, path, query, headers, body), with type
               matchers where a value comes from a variable; credentials are left out
               (the verifier adds real ones) and secret-named variables never rendered
    response   the status (a status-class matcher for ``5XX``), and for the success
               statuses the fields the step's ``responseMapping`` reads, with matchers
    state      the response's own description from the spec, with ``status`` and
               ``operation`` as parameters, so a provider's state handler can set it up
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from harness.contract.consumer import matched_steps
from harness.contract.matching import Match, NamedSpec, split_url
from harness.contract.openapi import Operation, Spec, resolve_ref
from harness.contract.pact_body import response_body
from harness.contract.request_check import plausible_example
from harness.contract.responses import representatives, response_examples, route_statuses
from harness.contract.schemas import media_schema
from harness.events import looks_secret
from harness.flow.expr import ExpressionError, render, substitute_text
from harness.flow.model import Flow, FlowSet, Step
from harness.flow.outcomes import SUCCESSFUL, classify

__all__ = ["PACT_SPECIFICATION", "PactFile", "build_pacts"]

PACT_SPECIFICATION = "4.0"
SECRET_PLACEHOLDER = "<secret>"
_NOW = 1_700_000_000_000  # currentTimestamp() in a pact: a fixed instant, not the wall clock
_CLASSES = {"1": "information", "2": "success", "3": "redirect", "4": "clientError",
            "5": "serverError"}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class PactFile:
    """One pact: its two participants and the V4 document."""

    consumer: str
    provider: str
    interactions: tuple[dict[str, Any], ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{_slug(self.consumer)}-{_slug(self.provider)}.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "consumer": {"name": self.consumer},
            "provider": {"name": self.provider},
            "interactions": list(self.interactions),
            "metadata": {"pactSpecification": {"version": PACT_SPECIFICATION}, **self.metadata},
        }

    def text(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class PactExport:
    """The pacts, and the steps left out (with why) or that the checker failed on."""

    pacts: tuple[PactFile, ...]
    skipped: tuple[str, ...] = ()
    internal_errors: tuple[str, ...] = ()


def build_pacts(
    flows: FlowSet,
    specs: Sequence[NamedSpec],
    *,
    consumer: str,
    harness_version: str = "",
    max_examples: int = 150,
) -> PactExport:
    """Every matched HTTP step of ``flows`` as interactions, grouped by backend host."""
    crashes: list[str] = []
    skipped: list[str] = []
    by_host: dict[str, list[dict[str, Any]]] = {}
    for flow, step, match, domains in matched_steps(flows, specs, crashes):
        where = f"{flow.id}/{step.id}"
        host = split_url(str(step.config.get("url", ""))).host
        if match.operation is None or match.spec is None or host is None:
            skipped.append(f"{where}: {match.reason or 'no operation matched'}")
            continue
        url = split_url(str(step.config.get("url", "")))
        values = plausible_example(
            step, match.operation, match.spec.spec, url, domains, max_examples=max_examples
        )
        if values is None:
            skipped.append(f"{where}: no plausible values pass its guards and the operation")
            continue
        by_host.setdefault(host, []).extend(_interactions(flow, step, match, values))
    metadata = {"ivr-harness": {"version": harness_version}} if harness_version else {}
    pacts = tuple(
        PactFile(consumer=consumer, provider=host, interactions=tuple(found), metadata=metadata)
        for host, found in sorted(by_host.items())
    )
    return PactExport(pacts=pacts, skipped=tuple(skipped), internal_errors=tuple(crashes))


def _interactions(
    flow: Flow, step: Step, match: Match, values: Mapping[str, Any]
) -> list[dict[str, Any]]:
    op, spec = match.operation, match.spec.spec if match.spec else None
    if op is None or spec is None:
        return []
    request = _request(step, {k: SECRET_PLACEHOLDER if looks_secret(k) else v
                              for k, v in values.items()})  # fmt: skip
    routing = route_statuses(flow, step, op, spec)
    found = []
    for key, pointer in op.responses.items():
        codes = representatives(key)
        if not codes:
            continue
        code = codes[0]
        branch = routing.branches.get(str(code))
        response = _response(step, spec, key, code, pointer)
        description = f"{flow.id}/{step.id}: {op.label} answered {key}"
        description += f", routed to {branch}" if branch else ", a dead end"
        state = {"name": _state_name(spec, op, key, pointer),
                 "params": {"operation": op.operation_id or op.label, "status": code}}  # fmt: skip
        interaction = {
            "type": "Synchronous/HTTP",
            "description": description,
            "providerStates": [state],
            "request": request,
            "response": response,
            "comments": {"text": _comments(flow, step)},
            "pending": False,
        }
        interaction["key"] = _key(interaction)
        found.append(interaction)
    return found


def _request(step: Step, values: Mapping[str, Any]) -> dict[str, Any]:
    cfg = step.config
    template = str(cfg.get("url", ""))
    parts = urlsplit(_text(template, values))
    request: dict[str, Any] = {"method": str(cfg.get("method", "GET")).upper(), "path": parts.path}
    rules: dict[str, Any] = {}
    if "{{" in urlsplit(template.split("?")[0]).path:
        rules["path"] = {"combine": "AND", "matchers": [_path_regex(template)]}
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    if query:
        request["query"] = query
        templated = _templated_query(template)
        if templated:
            rules["query"] = {q: {"combine": "AND", "matchers": [{"match": "type"}]}
                              for q in sorted(templated & set(query))}  # fmt: skip
    headers = _headers(step, values)
    if headers:
        request["headers"] = {name: [value] for name, value in headers.items()}
    body = cfg.get("body")
    if body is not None:
        request["body"] = _body(body, values, headers)
        if isinstance(body, dict) and isinstance(request["body"]["content"], dict):
            leaf_rules = {p: {"matchers": [{"match": "type"}]} for p in _templated_leaves(body)}
            if leaf_rules:
                rules["body"] = leaf_rules
    if rules:
        request["matchingRules"] = rules
    return request


def _text(template: str, values: Mapping[str, Any]) -> str:
    try:
        return substitute_text(template, values, now_ms=lambda: _NOW)
    except ExpressionError:
        return template


def _path_regex(template: str) -> dict[str, Any]:
    path = urlsplit(re.sub(r"\{\{.*?\}\}", "\x00", template.split("?")[0])).path
    pattern = "^" + "[^/]+".join(re.escape(p) for p in path.split("\x00")) + "$"
    return {"match": "regex", "regex": pattern}


def _templated_query(template: str) -> set[str]:
    query = template.partition("?")[2]
    return {name for name, value in parse_qsl(query, keep_blank_values=True) if "{{" in value}


def _headers(step: Step, values: Mapping[str, Any]) -> dict[str, str]:
    """The step's headers rendered, less every credential: the verifier supplies those."""
    auth = step.config.get("authentication") or {}
    auth_header = str(auth.get("headerName", "")).lower() if isinstance(auth, dict) else ""
    headers: dict[str, str] = {}
    for name, template in (step.config.get("headers") or {}).items():
        text = str(template)
        if looks_secret(name) or name.lower() == auth_header or SECRET_PLACEHOLDER in _text(
            text, values
        ):
            continue
        headers[str(name)] = _text(text, values)
    return headers


def _body(body: Any, values: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
    content_type = next(
        (v for k, v in headers.items() if k.lower() == "content-type"), "application/json"
    )
    try:
        rendered = render(body, values, now_ms=lambda: _NOW)
    except ExpressionError:
        rendered = body
    if isinstance(rendered, str) and "json" in content_type:
        try:
            rendered = json.loads(rendered)
        except ValueError:
            pass
    return {"content": rendered, "contentType": content_type, "encoded": False}


def _templated_leaves(body: Any, at: str = "$") -> list[str]:
    if isinstance(body, dict):
        return [p for k, v in body.items() for p in _templated_leaves(v, f"{at}.{k}")]
    if isinstance(body, list):
        return [p for i, v in enumerate(body) for p in _templated_leaves(v, f"{at}[{i}]")]
    return [at] if isinstance(body, str) and "{{" in body else []


def _response(step: Step, spec: Spec, key: str, code: int, pointer: str) -> dict[str, Any]:
    response: dict[str, Any] = {"status": code}
    rules: dict[str, Any] = {}
    if not key.isdigit():
        matcher = {"match": "statusCode", "status": _CLASSES.get(key[0], "error")}
        rules["status"] = {"$": {"combine": "AND", "matchers": [matcher]}}
    mapping = step.config.get("responseMapping") or {}
    schema_at, _ = media_schema(spec, pointer)
    if mapping and classify(code) in SUCCESSFUL and code != 202 and schema_at is not None:
        content, body_rules = response_body(
            mapping, spec, schema_at, response_examples(spec, pointer)
        )
        if content is not None:
            response["body"] = {"content": content, "contentType": "application/json",
                                "encoded": False}  # fmt: skip
            rules["body"] = body_rules
    if rules:
        response["matchingRules"] = rules
    return response


def _state_name(spec: Spec, op: Operation, key: str, pointer: str) -> str:
    node = resolve_ref(spec.document, pointer)
    text = node.get("description") if isinstance(node, dict) else None
    first = str(text).strip().split("\n")[0].rstrip(".") if text else ""
    return f"{op.label} answers {key}" + (f": {first}" if first else "")


def _comments(flow: Flow, step: Step) -> list[str]:
    lines = [f"flow {flow.id}, step {step.id}" + (f" ({flow.path.name})" if flow.path else "")]
    auth = step.config.get("authentication")
    if isinstance(auth, dict) and auth.get("type"):
        lines.append(
            f"the step authenticates with {auth['type']}: credentials are not in the pact; "
            "the provider's verification supplies real ones"
        )
    return lines


def _key(interaction: Mapping[str, Any]) -> str:
    text = json.dumps([interaction["description"], interaction["providerStates"]], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "unnamed"
