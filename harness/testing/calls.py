"""One HTTP Request step of a generated IVR: the prompt before it, the cached token, the
step itself, its error router, the 202 Wait, and the operation in the backend's spec."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.testing.documents import FlowDoc
from harness.testing.model import HttpStep
from harness.testing.plan import CallPlan, ServicePlan
from harness.testing.specs import Operation, Param, SpecBuilder
from harness.testing.timing import worst_case_ms

if TYPE_CHECKING:
    from harness.testing.assemble import _Assembler

__all__ = ["CallBuilder", "CallTargets"]

_VERBS = {"lookup": "get", "search": "find", "count": "count", "submit": "create",
          "update": "update"}  # fmt: skip
_METHODS = {"lookup": "GET", "search": "GET", "count": "GET", "submit": "POST",
            "update": "PATCH"}  # fmt: skip
_TIMEOUTS = (5000, 4000, 3000, 2500, 2000, 1500, 1000)
_PHONE = r"^\+[1-9][0-9]{1,14}$"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallTargets:
    """Where the router sends each outcome of one call."""

    success: str  # a 2xx with every mapped value present
    failure: str  # everything else (the router's default)
    not_found: str | None = None  # 404 (lookups, updates)
    none: str | None = None  # 2xx with an empty list (searches)
    queued: str | None = None  # 202 then the callback arrived (asynchronous writes)
    outage: str | None = None  # 5xx, timeouts, an open breaker: "our systems are busy"

    def with_(self, **changes: str) -> CallTargets:
        return dataclasses.replace(self, **changes)


class CallBuilder:
    def __init__(self, ivr: _Assembler) -> None:
        self.ivr = ivr
        self.jobs: set[str] = set()

    # -- names --------------------------------------------------------------------------------

    def step_name(self, call: CallPlan) -> str:
        res = call.resource
        noun = res.plural if call.kind in ("search", "count") else res.singular
        return f"{_VERBS[call.kind]}-{noun}"

    def outputs(self, call: CallPlan, *, chained: bool = False) -> list[str]:
        """The mapped variables a prompt speaks (ids for a next request are not spoken)."""
        return [name for name, _path, spoken in self._mapping(call, chained) if spoken]

    def inputs_of(self, service: ServicePlan) -> set[str]:
        """What the service's calls read from the caller's side of the call."""
        found = set()
        for call in service.calls:
            if call.source == "id":
                found.add(self.ivr.theme.id_input.variable)
            if call.source == "second" and service.second_input is not None:
                found.add(service.second_input.variable)
        return found

    def speech(self, call: CallPlan) -> str:
        res = call.resource
        words = res.label.replace("_", " ")
        out = self.outputs(call)
        if call.kind == "lookup":
            text = f"Your {res.singular} {words} is {{{{{out[0]}}}}}."
        elif call.kind == "search":
            text = f"The first {res.singular} is {{{{{out[0]}}}}}."
        elif call.kind == "count":
            text = f"You have {{{{{out[0]}}}}} {res.plural}."
        elif call.kind == "submit":
            text = f"Done. Your reference is {{{{{out[0]}}}}}."
        else:
            text = f"Your {res.singular} is now {{{{{out[0]}}}}}."
        if len(out) > 1:
            text += f" That is {{{{{out[1]}}}}}."
        return text

    def _mapping(self, call: CallPlan, chained: bool) -> list[tuple[str, str, bool]]:
        res, key = call.resource, call.list_key
        sing, plural = res.singular, res.plural.replace("-", "_")

        def first(field: str) -> str:
            return f"$.{key} && $.{key}.length > 0 ? $.{key}[0].{field} : null"

        if call.kind == "lookup":
            out = [(f"{sing}_{res.label}", f"$.{res.label}", True)]
            if call.second_field:
                out.append((f"{sing}_status", "$.status", True))
            if chained:
                out.append((f"{sing}_ref", "$.id", False))
            return out
        if call.kind == "search":
            out = [(f"{sing}_{res.label}", first(res.label), True)]
            if call.second_field:
                out.append((f"{plural}_total", "$.total", True))
            if chained:
                out.append((f"{sing}_id", first("id"), False))
            return out
        if call.kind == "count":
            return [(f"{plural}_count", f"$.{key}.length", True)]
        if call.kind == "submit":
            return [(f"{sing}_reference", "$.reference", True)]
        return [(f"{sing}_state", "$.state", True)]

    # -- the step -----------------------------------------------------------------------------

    def build(
        self,
        flow: FlowDoc,
        service: ServicePlan,
        call: CallPlan,
        targets: CallTargets,
        route: tuple[str, ...],
        *,
        previous: CallPlan | None = None,
        hold: str | None = "One moment while I check that.",
    ) -> str:
        """Add the call's steps to `flow`; returns the first of them."""
        name = self.step_name(call)
        http_id, router_id = f"http-{name}", f"route-{name}"
        chained = len(service.calls) == 2 and service.calls.index(call) == 0
        mapping = self._mapping(call, chained)
        host = self.ivr.host(call.host)
        host_plan = self.ivr.plan.hosts[call.host]
        url, path, params, body, body_schema = self._request(flow, service, call, previous)
        config: dict[str, Any] = {"url": f"https://{host}{host_plan.base_path}{url}",
                                  "method": _METHODS[call.kind]}  # fmt: skip
        config.update(self._timing(call))
        headers = {"Accept": "application/json"}
        features = [call.kind]
        if call.kind in ("submit", "update"):
            headers["Idempotency-Key"] = f"{{{{flow_execution_id}}}}-{name}"
            features.append("idempotency-key")
        if call.asynchronous:
            headers["X-Correlation-Id"] = "{{flow_execution_id}}"
            features.append("202-callback")
        entry_before_http = http_id
        token = None
        if host_plan.auth == "token":
            token = self._token(flow, host_plan.role)
            headers["Authorization"] = f"Bearer {{{{{token['variable']}}}}}"
            get = f"load-token-{name}"
            flow.add(get, "DataAPI", {"operation": "get", "key": token["key"],
                                      "resultVariable": token["variable"]}, http_id)  # fmt: skip
            entry_before_http = get
            features.append("cached-oauth2")
        else:
            config["authentication"] = self._auth(flow, host_plan.role, host_plan.auth,
                                                  host_plan.key_header)  # fmt: skip
            features.append(host_plan.auth)
        config["headers"] = headers
        if body is not None:
            config["body"] = body
        config["responseMapping"] = {var: p for var, p, _ in mapping}
        if any("[0]" in p for _, p, _ in mapping):
            features.append("guarded-index")
        if call.default_response:
            config["defaultResponse"] = {call.list_key: []} if call.kind == "search" else {}
        breaker = self._breaker(call, host_plan.breaker, name, host_plan.role)
        if breaker is not None:
            config["circuitBreaker"] = breaker
            features.append(f"breaker:{breaker['key']}")
        outage = targets.outage or targets.failure
        if call.timeout_route == "step":
            config["onTimeoutStepId"] = outage
        flow.add(http_id, "HTTPRequest", config, router_id)
        conditions, success_index, accepted_index, wait_id = self._router(
            flow, call, name, targets, [v for v, _, _ in mapping], breaker is not None
        )
        flow.add(router_id, "Condition", {"conditions": conditions,
                                          "defaultStepId": targets.failure})  # fmt: skip
        if flow.flow_type == "SubFlow":
            features.append("subflow")
        self._document(call, host, host_plan, path, params, body_schema, body, name, token)
        self.ivr.record(
            HttpStep(
                flow_id=flow.id, step_id=http_id, host=host, method=_METHODS[call.kind],
                path=host_plan.base_path + path, kind=call.kind, router_id=router_id,
                success_target=targets.success, success_condition=success_index,
                fallback=targets.failure, null_checked=tuple(v for v, _, _ in mapping),
                accepted_condition=accepted_index, wait_id=wait_id, token=token,
                features=tuple(features), dtmf=route,
            )
        )  # fmt: skip
        if hold is None:
            return entry_before_http
        hold_id = f"hold-{name}"
        flow.add(hold_id, "Play", {"prompt": hold, "durationMs": 1500}, entry_before_http)
        return hold_id

    def _timing(self, call: CallPlan) -> dict[str, Any]:
        """Timeout and retries, the timeout lowered until the worst case fits the budget."""
        retries = call.retries
        while True:
            for timeout in [t for t in _TIMEOUTS if t <= call.timeout_ms] or [1000]:
                config: dict[str, Any] = {"timeout": timeout}
                if retries:
                    policy: dict[str, Any] = {"maxRetries": retries, "backoff": call.backoff}
                    if call.backoff != "none":
                        policy["initialDelayMs"] = call.initial_ms
                    if call.max_delay_ms is not None:
                        policy["maxDelayMs"] = call.max_delay_ms
                    policy["retryOnStatusCodes"] = list(call.retry_statuses)
                    if not call.retry_on_timeout:
                        policy["retryOnTimeout"] = False
                    if call.jitter and call.backoff != "none":
                        policy["jitter"] = "full"
                    config["retryPolicy"] = policy
                if worst_case_ms(config) <= self.ivr.step_budget_ms:
                    return config
            if retries == 0:
                return {"timeout": 1000}
            retries -= 1

    def _breaker(self, call: CallPlan, policy: str, name: str, role: str) -> dict[str, Any] | None:
        if policy == "none":
            return None
        return {"key": role if policy == "host" else name, "failureThreshold": call.threshold,
                "cooldownMs": call.cooldown_ms,
                "countOn": ["5xx", "timeout", "connection"]}  # fmt: skip

    def _auth(self, flow: FlowDoc, role: str, kind: str, header: str) -> dict[str, Any]:
        if kind == "apiKey":
            key = self.ivr.secret(flow, f"{role}_api_key")
            return {"type": "apiKey", "headerName": header, "headerValue": f"{{{{{key}}}}}"}
        user = f"{role}_username"
        flow.declare(user, value=f"ivr-{self.ivr.theme.name}")
        password = self.ivr.secret(flow, f"{role}_password")
        return {"type": "basic", "username": f"{{{{{user}}}}}",
                "password": f"{{{{{password}}}}}"}  # fmt: skip

    def _token(self, flow: FlowDoc, role: str) -> dict[str, Any]:
        """The cached-token pattern: a scheduled flow keeps `<role>_access_token` fresh."""
        domain = self.ivr.theme.domain
        endpoint = f"https://auth.{domain}/oauth/token"
        scopes = [f"{role}:read", f"{role}:write"]
        client_id, secret = f"{role}_client_id", f"{role}_client_secret"
        variable = f"{role}_access_token"
        flow.declare(variable)
        if role not in self.jobs:
            self.jobs.add(role)
            self._job(role, endpoint, scopes, client_id, secret, variable)
        return {"endpoint": endpoint, "scopes": scopes, "client_id": client_id,
                "client_id_value": f"ivr-{self.ivr.theme.name}", "client_secret": secret,
                "variable": variable, "key": variable}  # fmt: skip

    def _job(self, role: str, endpoint: str, scopes: list[str], client_id: str, secret: str,
             key: str) -> None:  # fmt: skip
        job = FlowDoc(id=f"{role}-token-refresh", name=f"{role} token refresh",
                      flow_type="Scheduled", schedule_ms=2_700_000,
                      comment="Fetches the API token off the caller path and caches it in "
                      "Data Storage (guide 2).")  # fmt: skip
        job.declare(client_id, value=f"ivr-{self.ivr.theme.name}")
        self.ivr.secret(job, secret)
        job.declare("fetched_token")
        scope = "%20".join(s.replace(":", "%3A") for s in scopes)
        job.add("fetch-token", "HTTPRequest", {
            "url": endpoint, "method": "POST", "timeout": 3000,
            "retryPolicy": {"maxRetries": 1, "backoff": "fixed", "initialDelayMs": 500,
                            "maxDelayMs": 1000, "retryOnStatusCodes": [502, 503, 504]},
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "body": f"grant_type=client_credentials&scope={scope}",
            "authentication": {"type": "basic", "username": f"{{{{{client_id}}}}}",
                               "password": f"{{{{{secret}}}}}"},
            "responseMapping": {"fetched_token": "$.access_token"},
        }, "check-token")  # fmt: skip
        job.add("check-token", "Condition", {"conditions": [
            {"expression": "http_outcome == 'success' && fetched_token != null",
             "nextStepId": "store-token"}], "defaultStepId": "done"})  # fmt: skip
        job.add("store-token", "DataAPI", {"operation": "set", "key": key,
                "value": "{{fetched_token}}", "ttlMs": 3_300_000}, "done")  # fmt: skip
        job.add("done", "Return", {})
        self.ivr.flow(job, "fetch-token")
        auth_host = f"auth.{self.ivr.theme.domain}"
        if auth_host not in self.ivr.specs:
            spec = self.ivr.spec(auth_host)
            spec.title = "Token service"
            spec.security = {"type": "http", "scheme": "basic"}
            spec.add(Operation(
                method="post", path="/oauth/token", operation_id="issueToken",
                summary="OAuth2 client credentials", form_body=True,
                response={"type": "object", "required": ["access_token", "token_type"],
                          "properties": {"access_token": {"type": "string"},
                                         "token_type": {"type": "string"},
                                         "expires_in": {"type": "integer"}}},
                example={"access_token": "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
                         "token_type": "Bearer", "expires_in": 3600},
                errors=(400, 401),
            ))  # fmt: skip

    # -- the request ----------------------------------------------------------------------------

    def _request(
        self, flow: FlowDoc, service: ServicePlan, call: CallPlan, previous: CallPlan | None
    ) -> tuple[str, str, list[Param], Any, dict[str, Any] | None]:
        """(URL after the host, spec path, parameters, body, body schema)."""
        theme, res = self.ivr.theme, call.resource
        version = self.ivr.plan.hosts[call.host].version
        id_input = theme.id_input
        id_var = id_input.variable
        id_schema: dict[str, Any] = {"type": "string"}
        if self.ivr.plan.id_pattern:
            id_schema.update(_guarded(self.ivr.plan.id_guard, id_input.digits))
        params: list[Param] = []
        key_var, key_schema, key_name = id_var, id_schema, id_var
        if call.source == "chained" and previous is not None:
            key_var = self.outputs_ids(previous)
            key_schema, key_name = {"type": "string"}, f"{previous.resource.singular}_id"
        elif call.source == "second" and service.second_input is not None:
            second = service.second_input
            key_var, key_name = second.variable, second.variable
            key_schema = (
                {"type": "integer", "minimum": second.low, "maximum": second.high}
                if second.high and call.pattern
                else {
                    # A range guard (a value with bounds) lets through digits of any
                    # length up to the field's ('4' for 1-30), whatever the guard drawn.
                    "type": "string",
                    **_guarded("regex" if second.high else service.second_guard,
                               second.digits, at_least=1),
                }  # fmt: skip
            )
        elif call.source == "ani":
            key_var, key_name = "ani", "phone"
            key_schema = {"type": "string", "pattern": _PHONE}
        value = f"{{{{encodeUriComponent({key_var})}}}}"
        camel = _camel(key_name)
        if call.kind == "lookup":
            url = f"/{version}/{res.plural}/{value}"
            path = f"/{version}/{res.plural}/{{{camel}}}"
            params.append(Param(name=camel, where="path", schema=key_schema))
        elif call.kind in ("search", "count") and call.nested:
            url = f"/{version}/{id_input.collection}/{value}/{res.plural}"
            path = f"/{version}/{id_input.collection}/{{{camel}}}/{res.plural}"
            params.append(Param(name=camel, where="path", schema=key_schema))
        elif call.kind in ("search", "count"):
            url = f"/{version}/{res.plural}?{key_name}={value}"
            path = f"/{version}/{res.plural}"
            params.append(Param(name=key_name, where="query", schema=key_schema))
        elif call.kind == "update":
            url = f"/{version}/{res.plural}/{value}"
            path = f"/{version}/{res.plural}/{{{camel}}}"
            params.append(Param(name=camel, where="path", schema=key_schema))
        else:
            url = path = f"/{version}/{res.plural}"
        body, schema = self._body(call, key_var, key_name, key_schema)
        return url, path, params, body, schema

    def outputs_ids(self, call: CallPlan) -> str:
        """The variable holding the id the first call of a pair hands to the second."""
        mapping = self._mapping(call, True)
        return next(v for v, _p, spoken in mapping if not spoken and v.endswith(("_id", "_ref")))

    def _body(
        self, call: CallPlan, key_var: str, key_name: str, key_schema: Mapping[str, Any]
    ) -> tuple[Any, dict[str, Any] | None]:
        if call.kind == "submit":
            body = {key_name: f"{{{{{key_var}}}}}", "channel": "ivr"}
            props: dict[str, Any] = {
                key_name: dict(key_schema),
                "channel": {"type": "string", "enum": ["ivr", "web"]},
            }
        elif call.kind == "update":
            wanted = call.resource.label_examples[0]
            body = {"requested_state": wanted, "channel": "ivr"}
            props = {"requested_state": {"type": "string",
                                         "enum": list(call.resource.label_examples)},
                     "channel": {"type": "string", "enum": ["ivr", "web"]}}  # fmt: skip
        else:
            return None, None
        schema: dict[str, Any] = {"type": "object", "required": sorted(body),
                                  "properties": props}  # fmt: skip
        if call.strict_body:
            schema["additionalProperties"] = False
        return body, schema

    # -- the router ------------------------------------------------------------------------------

    def _router(
        self,
        flow: FlowDoc,
        call: CallPlan,
        name: str,
        targets: CallTargets,
        mapped: list[str],
        breaker: bool,
    ) -> tuple[list[dict[str, str]], int, int | None, str | None]:
        outcome = call.style == "outcome"
        # A POST's 201 is tested with 200 too: a backend that starts answering 200 is
        # still a success (and the lint models a 2xx as 200).
        status = (
            "(http_status_code == 200 || http_status_code == 201)"
            if call.kind == "submit"
            else "http_status_code == 200"
        )
        checks = " && ".join(f"{v} != null" for v in mapped)
        outage = targets.outage or targets.failure
        head: list[dict[str, str]] = []
        if outcome:
            success = f"http_outcome == 'success' && {checks}"
            none = "http_outcome == 'success'"
            if breaker and call.breaker_branch:
                head.append(_branch("http_outcome == 'circuit_open'", outage))
            if call.timeout_route == "branch":
                head.append(_branch("http_outcome == 'timeout' || http_outcome == "
                                    "'connection_error'", outage))  # fmt: skip
            if call.auth_branch:
                head.append(_branch("http_outcome == 'auth_error'", targets.failure))
        else:
            success = f"{status} && {checks}"
            none = status
            if call.timeout_route == "branch" or (breaker and call.breaker_branch):
                head.append(_branch("http_status_code == 0", outage))
            head.append(_branch("http_status_code >= 500", outage))
            if call.auth_branch:
                head.append(_branch("http_status_code == 401 || http_status_code == 403",
                                    targets.failure))  # fmt: skip
        specific: list[dict[str, str]] = []
        if targets.not_found is not None and call.kind in ("lookup", "update"):
            specific.append(_branch("http_status_code == 404", targets.not_found))
        wait_id = None
        accepted = None
        if call.asynchronous and targets.queued is not None:
            wait_id = self._wait(flow, call, name, targets)
            accepted = _branch("http_outcome == 'accepted'" if outcome
                               else "http_status_code == 202", wait_id)  # fmt: skip
            specific.append(accepted)
        tail = [_branch(success, targets.success)]
        if targets.none is not None and call.kind == "search":
            tail.append(_branch(none, targets.none))
        conditions = tail + specific + head if call.success_first else head + specific + tail
        success_index = conditions.index(tail[0])
        accepted_index = conditions.index(accepted) if accepted is not None else None
        return conditions, success_index, accepted_index, wait_id

    def _wait(self, flow: FlowDoc, call: CallPlan, name: str, targets: CallTargets) -> str:
        """The 202 pattern: hold with progress prompts until the callback lands, bounded."""
        callback = f"{call.resource.singular}_callback"
        flow.declare(callback)
        wait, check = f"wait-{name}", f"check-{name}-callback"
        flow.add(wait, "Wait", {
            "key": f"{name}:{{{{flow_execution_id}}}}", "maxWaitMs": call.wait_ms,
            "progressPromptEveryMs": call.progress_ms,
            "progressPrompt": "Still working on it. Thank you for holding.",
            "resultVariable": callback, "onTimeoutStepId": targets.failure,
        }, check)  # fmt: skip
        flow.add(check, "Condition", {"conditions": [
            {"expression": f"{callback} != null && {callback}.status == 'completed'",
             "nextStepId": targets.queued or targets.success}],
            "defaultStepId": targets.failure})  # fmt: skip
        return wait

    # -- the spec --------------------------------------------------------------------------------

    def _document(
        self,
        call: CallPlan,
        host: str,
        host_plan: Any,
        path: str,
        params: list[Param],
        body_schema: dict[str, Any] | None,
        body: Any,
        name: str,
        token: Mapping[str, Any] | None,
    ) -> None:
        spec: SpecBuilder = self.ivr.spec(host)
        spec.base_path = host_plan.base_path
        spec.security = _security(host_plan, token)
        headers = list(params)
        if call.kind in ("submit", "update"):
            headers.append(Param(name="Idempotency-Key", where="header",
                                 schema={"type": "string", "minLength": 8}))  # fmt: skip
        if call.asynchronous:
            headers.append(Param(name="X-Correlation-Id", where="header",
                                 schema={"type": "string"}, required=False))  # fmt: skip
        response, example = _response(call)
        errors = {"lookup": (400, 401, 404, 503), "search": (400, 401, 503),
                  "count": (400, 401, 503), "submit": (400, 401, 409, 503),
                  "update": (400, 401, 404, 409, 503)}[call.kind]  # fmt: skip
        if token is not None:
            errors = tuple(sorted({*errors, 403}))
        spec.add(Operation(
            method=_METHODS[call.kind].lower(), path=path, operation_id=_camel(name),
            summary=name.replace("-", " "), params=tuple(headers), body=body_schema,
            status=201 if call.kind == "submit" else 200,
            response=response, example=example, errors=errors, accepted=call.asynchronous,
        ))  # fmt: skip


def _branch(expression: str, target: str) -> dict[str, str]:
    return {"expression": expression, "nextStepId": target}


def _camel(name: str) -> str:
    head, *rest = name.replace("-", "_").split("_")
    return head + "".join(part.title() for part in rest)


def _security(host_plan: Any, token: Mapping[str, Any] | None) -> dict[str, Any]:
    if host_plan.auth == "apiKey":
        return {"type": "apiKey", "in": "header", "name": host_plan.key_header}
    if host_plan.auth == "basic":
        return {"type": "http", "scheme": "basic"}
    scopes = {s: f"{s.split(':')[1]} access" for s in (token or {}).get("scopes", [])}
    url = (token or {}).get("endpoint", "")
    return {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": url, "scopes": scopes}}}


def _response(call: CallPlan) -> tuple[dict[str, Any], Any]:
    res, key = call.resource, call.list_key
    label = {"type": "string"}
    upper = res.singular[:3].upper()
    if call.kind == "lookup":
        props = {"id": {"type": "string"}, "status": {"type": "string",
                 "enum": list(res.status_values)}, res.label: label}  # fmt: skip
        example = {"id": f"{upper}-1001", "status": res.status_values[0],
                   res.label: res.label_examples[0]}  # fmt: skip
        return {"type": "object", "required": sorted(props), "properties": props}, example
    if call.kind in ("search", "count"):
        item = {"type": "object", "required": ["id", res.label],
                "properties": {"id": {"type": "string"}, res.label: label}}  # fmt: skip
        items = [
            {"id": f"{upper}-{n + 1}", res.label: text}
            for n, text in enumerate((*res.label_examples, res.label_examples[0])[:2])
        ]
        schema = {"type": "object", "required": [key],
                  "properties": {key: {"type": "array", "items": item},
                                 "total": {"type": "integer", "minimum": 0}}}  # fmt: skip
        return schema, {key: items, "total": len(items)}
    if call.kind == "submit":
        props = {"id": {"type": "string"}, "reference": label,
                 "status": {"type": "string", "enum": ["confirmed"]}}  # fmt: skip
        example = {"id": f"{upper}-5001", "reference": res.label_examples[0],
                   "status": "confirmed"}  # fmt: skip
        return {"type": "object", "required": ["id", "reference"], "properties": props}, example
    props = {"id": {"type": "string"}, "state": {"type": "string"}}
    example = {"id": f"{upper}-2001", "state": res.label_examples[0]}
    return {"type": "object", "required": ["id", "state"], "properties": props}, example


def _guarded(guard: str, digits: int, *, at_least: int | None = None) -> dict[str, Any]:
    """What the spec declares of a keyed value: what the flow's guard lets through. A
    length guard lets any key through (`*` too), so the API takes any string that long;
    a regex guard lets digits only."""
    if guard == "length":
        return {"minLength": digits, "maxLength": digits}
    low = digits if at_least is None else at_least
    return {"pattern": f"^[0-9]{{{low},{digits}}}$" if low != digits else f"^[0-9]{{{digits}}}$"}
