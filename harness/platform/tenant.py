"""What the tenant holds: flows fetched by id with the SubFlows they call, as flow sets.

Fetches run a few at a time (the tenant's API is shared with everyone deploying to it);
the first failure cancels the rest.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, did_you_mean
from harness.flow.documents import canonical_text, subflow_refs
from harness.flow.loader import parse_flow
from harness.flow.model import FlowSet
from harness.platform.client import Deployed, FlowApi

__all__ = ["fetch", "fetch_all", "fetch_closure", "flow_set", "safe_name", "write_folder"]

_AT_ONCE = 4


async def fetch(api: FlowApi, ids: Iterable[str]) -> dict[str, Deployed | None]:
    """Each flow of ``ids`` as deployed (None: not on the tenant)."""
    wanted = sorted(set(ids))
    gate = asyncio.Semaphore(_AT_ONCE)

    async def one(flow_id: str) -> Deployed | None:
        async with gate:
            return await api.get(flow_id)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = {flow_id: group.create_task(one(flow_id)) for flow_id in wanted}
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the first failure, as if fetched one by one
    return {flow_id: task.result() for flow_id, task in tasks.items()}


async def fetch_all(api: FlowApi) -> dict[str, Deployed]:
    """Every flow the tenant holds."""
    found = await fetch(api, await api.list_flows())
    return {flow_id: deployed for flow_id, deployed in found.items() if deployed is not None}


async def fetch_closure(
    api: FlowApi, ids: Iterable[str], *, have: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Deployed | None]:
    """``ids`` and every flow their deployed versions (or ``have``'s documents) call through
    SubFlow steps, transitively; None for an id the tenant does not hold."""
    found: dict[str, Deployed | None] = {}
    todo = set(ids)
    for document in (have or {}).values():
        todo |= {child for _, child in subflow_refs(document)}
    while todo:
        batch = await fetch(api, todo - set(found))
        found.update(batch)
        todo = {
            child
            for deployed in batch.values()
            if deployed is not None
            for _, child in subflow_refs(deployed.document)
        } - set(found)
    return found


def flow_set(documents: Mapping[str, Mapping[str, Any]], *, source: str) -> FlowSet:
    """Documents as a :class:`FlowSet`, each schema-checked, every SubFlow resolved.

    ``source`` names where they came from in errors (e.g. "the tenant").
    """
    flows = {}
    for flow_id, document in sorted(documents.items()):
        try:
            flows[flow_id] = parse_flow(document, source=canonical_text(document))
        except ConfigError as exc:
            raise ConfigError(
                f"flow '{flow_id}' from {source}: {exc.detail}", pointer=exc.pointer, hint=exc.hint
            ) from None
    built = FlowSet(flows=flows)
    for flow in built:
        for step in flow.steps:
            if step.type == "SubFlow" and built.subflow_target(flow, step) is None:
                ref = str(step.config.get("flowId", ""))
                raise ConfigError(
                    f"{flow.id}/{step.id} from {source} calls flow '{ref}', which is not there",
                    pointer=f"{step.pointer}/configuration/flowId",
                    hint=did_you_mean(ref, built.flows),
                )
    return built


def write_folder(folder: Path, documents: Mapping[str, Mapping[str, Any]]) -> Path:
    """A scratch flow folder (``<id>.json``, canonical text) for the engines that read folders.

    Whatever the folder held is removed first: it is the run's own (a rerun with the same
    run id must not judge another run's flows).
    """
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for flow_id, document in documents.items():
        (folder / f"{safe_name(flow_id)}.json").write_text(canonical_text(document), "utf-8")
    return folder


def safe_name(flow_id: str) -> str:
    """``flow_id`` when it can be a file name, else a ConfigError (a tenant's id is input)."""
    if (
        not flow_id
        or flow_id in (".", "..")
        or any(c in flow_id for c in '/\\\0:*?"<>|')
        or any(ord(c) < 32 for c in flow_id)
    ):
        raise ConfigError(
            f"flow id {flow_id!r} cannot be a file name", hint="rename the flow on the tenant"
        )
    return flow_id
