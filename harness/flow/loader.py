"""Load flow documents and flow sets, rejecting bad ones with file + pointer + hint."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema

from harness.bundled import bundled_schema
from harness.errors import ConfigError, did_you_mean
from harness.flow.bounds import check_bounds
from harness.flow.model import Flow, FlowSet, Step
from harness.inputs import parse_json, read_text

__all__ = [
    "assemble_flow_set",
    "flow_schema",
    "load_flow",
    "load_flow_set",
    "parse_flow",
    "pointer_of",
]


def flow_schema() -> Mapping[str, Any]:
    """The bundled `contracts/schemas/flow.schema.json`."""
    return bundled_schema("flow.schema.json")


def pointer_of(path: Any) -> str:
    """An RFC 6901 JSON pointer for a jsonschema error path."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else ""


def load_flow(path: Path) -> Flow:
    """Read, parse and validate one flow file."""
    text = read_text(path, what="flow file")
    hint = "a flow file is the JSON body of PUT /api/v2/flow/flows/{flowId}"
    document = parse_json(text, file=path, hint=hint)
    return parse_flow(document, path=path, source=text)


def parse_flow(document: Any, *, path: Path | None = None, source: str = "") -> Flow:
    """Validate a decoded flow document against the schema and build a :class:`Flow`."""
    validate_against(flow_schema(), document, file=path)
    check_bounds(document, path)
    steps = tuple(_step(raw, i) for i, raw in enumerate(document["steps"]))
    _check_unique_steps(steps, path)
    entry = document.get("entryStepId", steps[0].id)
    if entry not in {s.id for s in steps}:
        raise ConfigError(
            f"entryStepId '{entry}' is not a step of this flow",
            file=path,
            pointer="/entryStepId",
            hint=did_you_mean(entry, [s.id for s in steps]) or "name an existing step id",
        )
    return Flow(
        id=document["id"],
        name=document["name"],
        flow_type=document["flowType"],
        version=document.get("version", 1),
        steps=steps,
        entry_step_id=entry,
        variables=dict(document.get("variables", {})),
        path=path,
        source=source,
        lint=dict(document.get("lint", {})),
        schedule_every_ms=document.get("schedule", {}).get("everyMs"),
    )


def _step(raw: Mapping[str, Any], index: int) -> Step:
    return Step(
        id=raw["id"],
        type=raw["type"],
        config=raw["configuration"],
        next_step_id=raw.get("nextStepId"),
        pointer=f"/steps/{index}",
        lint=dict(raw.get("lint", {})),
    )


def _check_unique_steps(steps: tuple[Step, ...], path: Path | None) -> None:
    seen: set[str] = set()
    for step in steps:
        if step.id in seen:
            raise ConfigError(
                f"duplicate step id '{step.id}'",
                file=path,
                pointer=f"{step.pointer}/id",
                hint="step ids must be unique within a flow",
            )
        seen.add(step.id)


def validate_against(schema: Mapping[str, Any], document: Any, *, file: Path | None) -> None:
    """Raise the single most useful schema error as a :class:`ConfigError`."""
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return
    error = _deepest(error)
    pointer = pointer_of(error.absolute_path)
    extra = _unexpected_keys(error) if error.validator == "additionalProperties" else []
    if extra:
        pointer += "/" + pointer_of([extra[0]]).lstrip("/")  # point at the offending key itself
    raise ConfigError(_describe(error), file=file, pointer=pointer, hint=_hint(error))


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    # if/then and allOf wrap the useful error; follow the most specific branch down.
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    return error


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        extra = _unexpected_keys(error)
        return f"unknown key '{extra[0]}'" if extra else error.message
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    return error.message


def _unexpected_keys(error: jsonschema.ValidationError) -> list[str]:
    allowed = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
    instance = error.instance if isinstance(error.instance, dict) else {}
    return sorted(k for k in instance if k not in allowed)


def _hint(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties" and isinstance(error.schema, dict):
        extra = _unexpected_keys(error)
        if extra:
            return did_you_mean(extra[0], error.schema.get("properties", {})) or (
                "allowed: " + ", ".join(sorted(error.schema.get("properties", {})))
            )
    if error.validator == "enum":
        return "one of: " + ", ".join(str(v) for v in list(error.validator_value))  # type: ignore[arg-type]
    if error.validator == "type":
        return f"expected {error.validator_value}"
    return ""


def load_flow_set(path: Path, *, resolve_subflows: bool = True) -> FlowSet:
    """Load every `*.json` flow in a folder (or one file) and check SubFlow references.

    ``resolve_subflows=False`` leaves them unchecked: a release may call flows that are
    only deployed (`ivr-harness deploy` checks them against the tenant).
    """
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not path.exists():
        raise ConfigError("no such file or folder", file=path, hint="pass a folder of flow files")
    if not files:
        raise ConfigError("folder holds no *.json flow files", file=path)
    return assemble_flow_set(
        [load_flow(file) for file in files],
        path if path.is_dir() else path.parent,
        resolve_subflows=resolve_subflows,
    )


def assemble_flow_set(
    flows: Iterable[Flow], root: Path | None, *, resolve_subflows: bool = True
) -> FlowSet:
    """A flow set of flows already loaded, checked as `load_flow_set` checks a folder:
    unique flow ids, every SubFlow's target present (unless `resolve_subflows` is off)."""
    by_id: dict[str, Flow] = {}
    for flow in flows:
        if flow.id in by_id:
            raise ConfigError(
                f"flow id '{flow.id}' is also defined in {by_id[flow.id].path}",
                file=flow.path,
                pointer="/id",
                hint="flow ids must be unique within a flow set",
            )
        by_id[flow.id] = flow
    flow_set = FlowSet(flows=by_id, root=root)
    if resolve_subflows:
        _check_subflows(flow_set)
    return flow_set


def _check_subflows(flow_set: FlowSet) -> None:
    for flow in flow_set:
        for step in flow.steps:
            if step.type == "SubFlow" and flow_set.subflow_target(flow, step) is None:
                ref = str(step.config["flowId"])
                raise ConfigError(
                    f"SubFlow '{step.id}' calls flow '{ref}', which is not in this flow set",
                    file=flow.path,
                    pointer=f"{step.pointer}/configuration/flowId",
                    hint=did_you_mean(ref, flow_set.flows)
                    or "available: " + ", ".join(flow_set.flows),
                )
