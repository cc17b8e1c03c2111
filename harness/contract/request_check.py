"""Render a step's request for drawn variable values and check it against the operation.

Each part (URL, each header, body) is searched separately with a small, seeded Hypothesis
``find``, so every problem comes with its own minimal failing example.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from harness.contract.matching import StepUrl, path_parameters
from harness.contract.openapi import Operation, Spec, resolve_ref
from harness.contract.params import auth_supplies, coerce, param_value
from harness.contract.schemas import Unsupported, validate
from harness.contract.values import (
    HOSTILE_STRINGS,
    PLATFORM,
    Domains,
    Shape,
    shapes_of,
    strings_in,
)
from harness.flow.expr import ExpressionError, placeholders, render, substitute_text
from harness.flow.model import Step

__all__ = ["Problem", "check_request", "describe_example", "plausible_example"]

_URL_FORBIDDEN = set(' "<>\\^`{|}')
_ONE_AT_A_TIME = ("injection", "header")
_PARAM_KEYWORDS = (
    "type format enum pattern minLength maxLength minimum maximum exclusiveMinimum "
    "exclusiveMaximum items minItems maxItems multipleOf"
).split()


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One request problem: ``kind`` is 'injection', 'header', 'request-schema',
    'unsupported' or 'unreached' (no value the checker can build gets past the step's
    guards). A bad header value is its own kind: HTTP clients refuse to send it, so it
    fails the request rather than smuggling anything (a warning, not an error)."""

    kind: str
    message: str
    spec_pointer: str = ""
    example: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Request:
    step: Step
    op: Operation | None
    spec: Spec | None
    url: StepUrl
    shapes: Mapping[str, Shape]
    notes: list[str]


def check_request(
    step: Step,
    op: Operation | None,
    spec: Spec | None,
    url: StepUrl,
    domains: Domains,
    *,
    max_examples: int = 150,
) -> list[Problem]:
    """Injection problems for hostile values; schema problems for plausible ones."""
    cfg = step.config
    shapes = shapes_of(strings_in({k: cfg.get(k) for k in ("url", "headers", "body")}))
    blocked = [why for name, shape in shapes.items() if (why := domains.blocked(name, shape))]
    if blocked:
        message = f"{'; '.join(blocked)}: the request is not checked with drawn values"
        return [Problem(kind="unreached", message=message)]
    req = _Request(step=step, op=op, spec=spec, url=url, shapes=shapes, notes=[])
    plausible = _strategy(shapes, domains.plausible)
    checks: list[_Check] = []
    for name in shapes:  # one variable hostile at a time: the finding names the culprit
        hostile = _one_hostile(shapes, name, domains)
        checks += [
            _Check("injection", hostile, lambda v: _url_injection(req, v), "", name),
            _Check("injection", hostile, lambda v: _body_injection(req, v), "", name),
            _Check("header", hostile, lambda v: _header_injection(req, v), "", name),
        ]
    if op is not None and spec is not None:
        checks += [
            _Check("request-schema", plausible, lambda v: _params_problem(req, v), op.pointer),
            _Check("request-schema", plausible, lambda v: _body_problem(req, v), _body_at(op)),
        ]
    if not shapes:  # nothing varies: one look is the whole search
        max_examples = 1
    found, seen = [], set()
    for check in checks:
        problem = _search(shapes, check, max_examples, domains)
        if problem is not None and (check.kind, problem.message) not in seen:
            seen.add((check.kind, problem.message))
            found.append(problem)
    notes = [Problem(kind="unsupported", message=n) for n in dict.fromkeys(req.notes)]
    return found + notes


def plausible_example(
    step: Step,
    op: Operation,
    spec: Spec,
    url: StepUrl,
    domains: Domains,
    *,
    max_examples: int = 150,
) -> dict[str, Any] | None:
    """The simplest plausible variable values whose rendered request passes the
    operation's parameter and body schemas (what a Pact interaction shows); None when
    the guards block the step or no such values turn up."""
    shapes = shapes_of(strings_in({k: step.config.get(k) for k in ("url", "headers", "body")}))
    if any(domains.blocked(name, shape) for name, shape in shapes.items()):
        return None
    req = _Request(step=step, op=op, spec=spec, url=url, shapes=shapes, notes=[])
    config = settings(
        max_examples=max_examples if shapes else 1,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    try:
        return find(
            _strategy(shapes, domains.plausible),
            lambda v: not _params_problem(req, v) and not _body_problem(req, v),
            settings=config,
        )
    except NoSuchExample:
        return None


def _strategy(
    shapes: Mapping[str, Shape], pick: Callable[[str, Shape], st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({name: pick(name, shape) for name, shape in shapes.items()})


def _one_hostile(
    shapes: Mapping[str, Shape], name: str, domains: Domains
) -> st.SearchStrategy[dict[str, Any]]:
    benign = _benign(shapes)
    return st.fixed_dictionaries(
        {
            k: domains.hostile(k, shape) if k == name else st.just(benign[k])
            for k, shape in shapes.items()
        }
    )


class _Check(NamedTuple):
    kind: str
    strategy: st.SearchStrategy[dict[str, Any]]
    problem: Callable[[dict[str, Any]], str]
    spec_pointer: str
    focus: str = ""  # the one hostile variable, for injection checks


def _search(
    req_shapes: Mapping[str, Shape], check: _Check, max_examples: int, domains: Domains
) -> Problem | None:
    kind, problem, spec_pointer = check.kind, check.problem, check.spec_pointer
    config = settings(
        max_examples=max_examples,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    curated = _curated(req_shapes, check.focus) if domains.free_text(check.focus) else []
    admitted = (e for e in curated if domains.admits(check.focus, e[check.focus]))
    example = next((e for e in admitted if problem(e)), None)
    if example is None:
        try:
            example = find(check.strategy, lambda v: bool(problem(v)), settings=config)
        except NoSuchExample:
            return None
    shown = {
        k: v for k, v in example.items() if kind not in _ONE_AT_A_TIME or v != _benign_value(v)
    }
    message = problem(example)
    if kind in _ONE_AT_A_TIME and shown:
        names = ", ".join(_leaf_paths(k, req_shapes.get(k, {})) for k in shown)
        message = f"{{{{{names}}}}}: {message}"
    return Problem(kind=kind, message=message, spec_pointer=spec_pointer, example=shown)


def _curated(shapes: Mapping[str, Shape], focus: str) -> list[dict[str, Any]]:
    """The classic hostile strings for ``focus``, tried before the search so the reported
    example is the textbook one (a quote) rather than whatever shrinks smallest."""
    if not focus or focus in PLATFORM:
        return []
    benign = _benign(shapes)
    return [{**benign, focus: _filled(shapes[focus], text)} for text in HOSTILE_STRINGS]


def _filled(shape: Shape, text: str) -> Any:
    return {k: _filled(v, text) for k, v in shape.items()} if shape else text


def _leaf_paths(name: str, shape: Shape) -> str:
    if not shape:
        return name
    return ", ".join(_leaf_paths(f"{name}.{k}", sub) for k, sub in shape.items())


def _benign_value(value: Any) -> Any:
    return {k: _benign_value(v) for k, v in value.items()} if isinstance(value, dict) else "x"


def _text(template: str, variables: Mapping[str, Any]) -> str | None:
    try:
        return substitute_text(template, variables, now_ms=lambda: 0)
    except ExpressionError:
        return None


# --- injection (hostile values) --------------------------------------------------------


def _url_injection(req: _Request, variables: Mapping[str, Any]) -> str:
    template = str(req.step.config.get("url", ""))
    if not placeholders(template):
        return ""
    text = _text(template, variables)
    benign = _text(template, _benign(req.shapes))
    if text is None or benign is None:
        return ""
    bad = [c for c in text if c in _URL_FORBIDDEN or not 0x20 < ord(c) < 0x7F]
    if bad:
        return (
            f"the URL is not well formed: it contains {bad[0]!r} "
            "(encode the value with encodeUriComponent)"
        )
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        return "the URL is not well formed: a '%' is not a percent-escape (use encodeUriComponent)"
    if _url_shape(text) != _url_shape(benign):
        return "the value changes the URL's structure (path segments, query keys or fragment)"
    return ""


def _url_shape(text: str) -> tuple[Any, ...]:
    try:
        parts = urlsplit(text)
    except ValueError:
        return ("unparseable",)
    keys = sorted(parse_qs(parts.query, keep_blank_values=True))
    return parts.netloc, parts.path.count("/"), tuple(keys), parts.fragment != ""


def _body_injection(req: _Request, variables: Mapping[str, Any]) -> str:
    body = req.step.config.get("body")
    if not isinstance(body, str) or not placeholders(body) or not _looks_json(req, body):
        return ""
    text = _text(body, variables)
    benign = _text(body, _benign(req.shapes))
    if text is None or benign is None:
        return ""
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"the JSON-string body is not valid JSON after substitution ({exc.args[0]})"
    try:
        expected = json.loads(benign)
    except ValueError:
        return ""
    if _keys(value) != _keys(expected):
        return "the value changes the JSON body's structure (keys added or moved)"
    return ""


def _looks_json(req: _Request, body: str) -> bool:
    media = " ".join(req.op.body_schemas) if req.op else ""
    headers = " ".join(str(v) for v in (req.step.config.get("headers") or {}).values())
    return body.lstrip().startswith(("{", "[")) or "json" in media or "json" in headers


def _keys(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        return {f"{prefix}/{k}" for k in value} | {
            key for k, v in value.items() for key in _keys(v, f"{prefix}/{k}")
        }
    return set()


def _header_injection(req: _Request, variables: Mapping[str, Any]) -> str:
    headers = req.step.config.get("headers") or {}
    for name, template in headers.items():
        text = _text(str(template), variables)
        if text is None:
            continue
        if any(c in "\r\n\x00" for c in text):
            return f"header {name} would carry a line break (header injection)"
        if not text.isascii() and not _latin1(text):
            return f"header {name} would carry characters HTTP headers cannot hold"
    return ""


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _benign(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    def leaf(shape: Shape) -> Any:
        return {k: leaf(v) for k, v in shape.items()} if shape else "x"

    return {name: leaf(shape) for name, shape in shapes.items()}


# --- schema (plausible values) ---------------------------------------------------------


def _params_problem(req: _Request, variables: Mapping[str, Any]) -> str:
    the_op = req.op
    if the_op is None or req.spec is None:
        return ""
    text = _text(str(req.step.config.get("url", "")), variables)
    if text is None:
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    query = parse_qs(parts.query, keep_blank_values=True)
    # Keep empty segments: '/patients//slots' has no patient id, it is not 'slots'.
    segments = [unquote(s) for s in parts.path.split("/")[1:]]
    indexes = path_parameters(the_op, req.url, req.spec)
    headers = {k.lower(): v for k, v in (req.step.config.get("headers") or {}).items()}
    for param in the_op.parameters:
        value = param_value(param.location, param.name, query, segments, indexes, headers)
        value = _text(value, variables) if param.location == "header" and value else value
        if value == "" and param.location == "path":
            return f"required path parameter '{param.name}' is missing (empty path segment)"
        if value is None:
            if param.required and not auth_supplies(req.step, param.name, param.location):
                return f"required {param.location} parameter '{param.name}' is missing"
            continue
        message = _check_param(req, param.schema_pointer, value)
        if message:
            return f"{param.location} parameter '{param.name}' = {value[:80]!r}: {message}"
    return ""


def _check_param(req: _Request, pointer: str | None, value: str) -> str:
    if pointer is None or req.spec is None:
        return ""
    schema = resolve_ref(req.spec.document, pointer)
    if not isinstance(schema, dict):
        return ""
    if req.spec.version == "2.0" and "in" in schema:  # keywords sit on the parameter itself
        schema = {k: schema[k] for k in _PARAM_KEYWORDS if k in schema}
        target: str | dict[str, Any] = schema
    else:
        target = pointer
    try:
        errors = validate(req.spec, target, coerce(schema, value))
    except Unsupported as exc:
        req.notes.append(str(exc))
        return ""
    return errors[0] if errors else ""


def _body_at(op: Operation) -> str:
    media = _json_media(op)
    return op.body_schemas[media] if media else op.pointer


def _json_media(op: Operation) -> str | None:
    for media in op.body_schemas:
        if "json" in media.lower() or media == "*/*":
            return media
    return None


def _body_problem(req: _Request, variables: Mapping[str, Any]) -> str:
    op, spec = req.op, req.spec
    body = req.step.config.get("body")
    if op is None or spec is None:
        return ""
    if body is None:
        return (
            "the operation requires a request body; the step sends none"
            if (op.body_required)
            else ""
        )
    media = _json_media(op)
    if media is None:
        if op.body_schemas:
            req.notes.append(f"{op.label}: body media {', '.join(op.body_schemas)} not checked")
        return ""
    try:
        value = render(body, variables, now_ms=lambda: 0)
    except ExpressionError:
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return ""  # the injection check reports this one
    try:
        errors = validate(spec, op.body_schemas[media], value)
    except Unsupported as exc:
        req.notes.append(str(exc))
        return ""
    return f"the body does not match the schema: {errors[0]}" if errors else ""


def describe_example(example: Mapping[str, Any] | None) -> str:
    """A short, readable rendering of a failing example."""
    if not example:
        return ""
    text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in example.items())
    return text if len(text) <= 240 else text[:237] + "..."
