"""The release against the stand-in over real sockets, under our own faults.

Each test deploys the small tenant's three flows with an edit in each (so three PUTs,
SubFlows first: greeting, lookup, ivr) and says what a person would check on the tenant
afterwards: every document byte-equal to before, or every one at its next version.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest

from harness.backends.flowapi import FlowApiStandIn
from harness.platform.release import (
    Release,
    ReleaseOptions,
    apply,
    load_release,
    plan,
    read_tenant,
)
from harness.platform.retry import RetryPolicy
from tests.fixtures.flowapi import (
    CLIENT,
    SECRET,
    api_for,
    edited,
    small_tenant,
    standin,
    texts,
    write_flows,
)

__all__ = ["standin"]

LOOKUP = "/api/v2/flow/flows/lookup"
CONFLICT = {"error": "version_conflict", "error_description": "someone deployed it"}


async def prepared(
    standin: FlowApiStandIn, tmp_path: Path, documents: list[dict[str, Any]] | None = None
) -> Release:
    folder = write_flows(tmp_path / "release", documents or edited(small_tenant()))
    release = load_release(folder, ReleaseOptions(flows=folder, work=tmp_path / "out"))
    async with api_for(standin.url) as api:
        await read_tenant(api, release)
    release.plan = plan(release)
    return release


async def deploy(standin: FlowApiStandIn, release: Release, **kw: Any) -> Release:
    async with api_for(standin.url, **kw) as api:
        await apply(api, release)
    return release


def put_paths(standin: FlowApiStandIn) -> list[tuple[str, int]]:
    return [(r.path.rsplit("/", 1)[1], r.status) for r in standin.requests("PUT")]


async def test_a_release_writes_subflows_first_each_at_its_next_version(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    release = await deploy(standin, await prepared(standin, tmp_path))
    assert release.status == "deployed" and release.exit_code == 0
    assert put_paths(standin) == [("greeting", 200), ("lookup", 200), ("ivr", 200)]
    assert {k: v.version for k, v in standin.store.flows.items()} == {
        "ivr": 5, "lookup": 5, "greeting": 5,
    }  # fmt: skip
    assert standin.store.flows["ivr"].document["$comment"] == "edited ivr"


async def test_a_409_on_the_third_flow_leaves_the_tenant_exactly_as_before(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    before = texts(standin)
    standin.faults.add(
        {"kind": "status", "status": 409, "body": CONFLICT, "method": "PUT",
         "route": "/api/v2/flow/flows/ivr"}
    )  # fmt: skip
    release = await deploy(standin, await prepared(standin, tmp_path))
    assert release.status == "conflict" and release.exit_code == 1
    assert texts(standin) == before  # byte for byte, version numbers included
    assert release.rollback == {
        "lookup": "put back to version 4",
        "greeting": "put back to version 4",
    }
    assert release.conflict[0] == (
        "ivr is at version 4 on the tenant; this release would overwrite it"
    )
    assert put_paths(standin)[-2:] == [("lookup", 200), ("greeting", 200)]  # newest first


async def test_someone_deploying_in_between_is_a_conflict_never_an_overwrite(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    release = await prepared(standin, tmp_path)
    theirs = copy.deepcopy(dict(standin.store.flows["lookup"].document))
    theirs["steps"][0]["configuration"]["timeout"] = 9000
    async with api_for(standin.url) as other:
        current = await other.get("lookup")
        await other.put("lookup", {**theirs, "version": 5}, expect=current)
    meanwhile = texts(standin)
    await deploy(standin, release)
    assert release.status == "conflict" and release.exit_code == 1
    assert texts(standin) == meanwhile  # their lookup kept, our greeting put back
    assert release.conflict[0].startswith("lookup is at version 5")
    assert any("dead air" in line for line in release.conflict[1:])  # diff's own lines


async def test_a_503_storm_mid_release_is_ridden_out(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    standin.faults.add({"kind": "status", "status": 503, "times": 3, "method": "PUT",
                        "route": LOOKUP})  # fmt: skip
    release = await deploy(standin, await prepared(standin, tmp_path))
    assert release.status == "deployed"
    assert [s for f, s in put_paths(standin) if f == "lookup"] == [503, 503, 503, 200]


async def test_a_storm_past_the_retry_budget_rolls_back_and_is_exit_2(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    before = texts(standin)
    standin.faults.add({"kind": "status", "status": 503, "method": "PUT", "route": LOOKUP})
    release = await deploy(standin, await prepared(standin, tmp_path))
    assert release.status == "failed" and release.exit_code == 2
    assert "PUT lookup: gave up after 5 attempts" in release.error
    assert texts(standin) == before
    assert release.rollback["greeting"] == "put back to version 4"
    assert release.rollback["lookup"] == "untouched, still version 4"


async def test_a_lost_answer_mid_release_is_read_back_not_repeated(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    standin.faults.add(
        {"kind": "dribble", "bytes_per_chunk": 50, "interval_ms": 2500, "method": "PUT",
         "route": LOOKUP, "times": 1}
    )  # fmt: skip
    policy = RetryPolicy(timeout_s=1.0, attempts=3, backoff_s=0.01)
    release = await deploy(standin, await prepared(standin, tmp_path), policy=policy)
    assert release.status == "deployed"
    assert standin.store.flows["lookup"].version == 5
    for _ in range(50):  # the faulted PUT is logged once its drip sees the client gone
        if len(standin.requests("PUT")) == 3:
            break
        await asyncio.sleep(0.1)
    assert sorted(f for f, _ in put_paths(standin)) == ["greeting", "ivr", "lookup"]


async def test_a_token_expiring_mid_release_is_renewed(tmp_path: Path) -> None:
    async with FlowApiStandIn(
        clients={CLIENT: SECRET}, flows=small_tenant(), token_ttl_s=1.0
    ) as short:
        # The PUT of lookup leaves with a live token and is checked after it expired.
        short.faults.add({"kind": "delay", "ms": 1500, "method": "PUT", "route": LOOKUP,
                          "times": 1})  # fmt: skip
        patient = RetryPolicy(timeout_s=10, attempts=3, backoff_s=0.01)
        release = await deploy(short, await prepared(short, tmp_path), policy=patient)
        assert release.status == "deployed"
        assert [s for f, s in put_paths(short) if f == "lookup"] == [401, 200]
        assert {v.version for v in short.store.flows.values()} == {5}


async def test_a_missing_flow_edit_scope_is_refused_before_any_put(tmp_path: Path) -> None:
    grants = {CLIENT: ["api:read", "integration:manage"]}
    async with FlowApiStandIn(clients={CLIENT: SECRET}, grants=grants, flows=small_tenant()) as s:
        release = await deploy(s, await prepared(s, tmp_path))
        assert release.status == "failed" and release.exit_code == 1
        assert "missing scope flow:edit" in release.error
        assert s.requests("PUT") == []


async def test_a_scope_revoked_mid_release_rolls_back_naming_it(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    before = texts(standin)
    body = {"error": "insufficient_scope", "error_description": "revoked", "scope": "flow:edit"}
    standin.faults.add({"kind": "status", "status": 403, "body": body, "method": "PUT",
                        "route": LOOKUP})  # fmt: skip
    release = await deploy(standin, await prepared(standin, tmp_path))
    assert release.exit_code == 1 and "missing scope flow:edit" in release.error
    assert texts(standin) == before


async def test_a_read_back_that_differs_rolls_back(standin: FlowApiStandIn, tmp_path: Path) -> None:
    before = texts(standin)
    release = await prepared(standin, tmp_path)
    standin.faults.add({"kind": "rename_field", "from": "prompt", "to": "promt", "method": "GET",
                        "route": "/api/v2/flow/flows/greeting", "times": 1})  # fmt: skip
    await deploy(standin, release)
    assert release.exit_code == 1 and "read-back of greeting differs" in release.error
    assert texts(standin) == before


async def test_a_created_flow_is_deleted_by_the_rollback(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    documents = edited(small_tenant())
    documents.append(
        {"id": "aaa-new", "name": "New", "flowType": "SubFlow",
         "steps": [{"id": "r", "type": "Return", "configuration": {}}]}
    )  # fmt: skip
    before = texts(standin)
    standin.faults.add({"kind": "status", "status": 409, "body": CONFLICT, "method": "PUT",
                        "route": "/api/v2/flow/flows/ivr"})  # fmt: skip
    release = await deploy(standin, await prepared(standin, tmp_path, documents))
    assert release.rollback["aaa-new"] == "deleted (the release had created it)"
    assert texts(standin) == before


async def test_an_interrupted_release_puts_back_what_it_wrote_and_fences_the_write_in_flight(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    before = texts(standin)
    standin.faults.add({"kind": "delay", "ms": 1000, "method": "PUT", "route": LOOKUP,
                        "times": 1})  # fmt: skip
    release = await prepared(standin, tmp_path)
    task = asyncio.ensure_future(deploy(standin, release))
    while standin.faults.fired["delay"] == 0:  # noqa: ASYNC110 - the PUT of lookup is in
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert release.status == "interrupted"
    assert release.rollback == {
        "lookup": "untouched, still version 4",
        "greeting": "put back to version 4",
    }
    # The delayed PUT reaches its handler after the rollback: its If-Match is stale now.
    for _ in range(100):
        if 409 in [s for f, s in put_paths(standin) if f == "lookup"]:
            break
        await asyncio.sleep(0.1)
    assert sorted(s for f, s in put_paths(standin) if f == "lookup") == [200, 409]  # fence, late
    assert texts(standin) == before


async def test_a_signal_during_a_rollback_does_not_stop_it(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    before = texts(standin)
    release = await prepared(standin, tmp_path)
    standin.faults.add({"kind": "status", "status": 409, "body": CONFLICT, "method": "PUT",
                        "route": "/api/v2/flow/flows/ivr"})  # fmt: skip
    standin.faults.add({"kind": "delay", "ms": 300, "method": "GET", "route": LOOKUP})
    task = asyncio.ensure_future(deploy(standin, release))
    while release.status != "conflict":  # noqa: ASYNC110 - the rollback has begun
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert release.rollback == {
        "lookup": "put back to version 4",
        "greeting": "put back to version 4",
    }
    assert texts(standin) == before


async def test_a_subflow_neither_deployed_nor_released_is_refused_naming_both(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    documents = edited(small_tenant())
    documents[0]["steps"][0]["configuration"]["flowId"] = "lookup-v2"
    release = await prepared(standin, tmp_path, documents)
    assert release.status == "refused" and release.exit_code == 1
    assert release.problems == [
        "ivr/call-lookup calls flow 'lookup-v2', which is neither deployed nor in this release"
    ]
    assert standin.requests("PUT") == []


async def test_a_release_equal_to_the_tenant_writes_nothing(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    release = await prepared(standin, tmp_path, small_tenant(version=2))
    assert [p.action for p in release.plan] == ["unchanged"] * 3
    assert release.changes == []
