"""`pull` and `drift` against the stand-in over real sockets."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from harness.backends.flowapi import FlowApiStandIn
from harness.errors import ConfigError
from harness.flow.loader import load_flow_set
from harness.platform.drift import DriftReport, check_drift
from harness.platform.pull import pull
from harness.platform.tenant import safe_name
from tests.fixtures.flowapi import api_for, small_tenant, standin, write_flows

__all__ = ["standin"]


def write(pulled_files: dict[Path, str]) -> None:
    for path, text in pulled_files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


async def test_a_pull_is_a_loadable_folder_and_byte_stable(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    dest = tmp_path / "flows"
    async with api_for(standin.url) as api:
        first = await pull(api, dest)
        write(dict(first.files))
        second = await pull(api, dest)
    assert sorted(p.name for p in first.files) == ["greeting.json", "ivr.json", "lookup.json"]
    assert len(first.changed) == 3 and second.changed == ()
    assert (dest / "ivr.json").read_text() == standin.store.flows["ivr"].text
    assert len(load_flow_set(dest)) == 3


async def test_pulling_one_flow_brings_every_subflow_it_calls(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    async with api_for(standin.url) as api:
        pulled = await pull(api, tmp_path, ["ivr"])
    assert sorted(pulled.flows) == ["greeting", "ivr", "lookup"]


async def test_a_flow_keeps_the_file_it_already_has(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    (tmp_path / "main-menu.json").write_text(json.dumps(small_tenant()[0]))
    async with api_for(standin.url) as api:
        pulled = await pull(api, tmp_path)
    assert tmp_path / "main-menu.json" in pulled.files
    assert tmp_path / "ivr.json" not in pulled.files


async def test_a_pull_never_overwrites_a_file_holding_another_flow(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    other = {**small_tenant()[2], "id": "welcome"}
    (tmp_path / "greeting.json").write_text(json.dumps(other))
    async with api_for(standin.url) as api:
        with pytest.raises(ConfigError, match="greeting.json: this file holds flow 'welcome'"):
            await pull(api, tmp_path)


async def test_a_flow_the_tenant_lacks_is_an_input_error(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    async with api_for(standin.url) as api:
        with pytest.raises(ConfigError, match="the tenant holds no flow 'nope'"):
            await pull(api, tmp_path, ["nope"])


@pytest.mark.parametrize("flow_id", ["..", "a/b", "x\\y", "", "c:d"])
def test_a_flow_id_that_cannot_be_a_file_name_is_refused(flow_id: str) -> None:
    with pytest.raises(ConfigError, match="cannot be a file name"):
        safe_name(flow_id)


async def drift_of(standin: FlowApiStandIn, repository: Path) -> DriftReport:
    flows = load_flow_set(repository, resolve_subflows=False)
    async with api_for(standin.url) as api:
        return await check_drift(api, flows, budget_ms=8000)


async def test_no_drift_when_the_tenant_runs_the_repository(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    report = await drift_of(standin, write_flows(tmp_path, small_tenant(version=1)))
    assert not report.drifted and report.lines() == [] and report.text_only == {}
    assert report.versions == {"ivr": 4, "lookup": 4, "greeting": 4}


async def test_a_behaviour_change_on_the_tenant_is_drift_with_diffs_lines(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    repository = write_flows(tmp_path, small_tenant())
    ui = copy.deepcopy(dict(standin.store.flows["lookup"].document))
    ui["steps"][1]["configuration"]["conditions"][0]["expression"] = "true"
    standin.store.seed([ui])
    report = await drift_of(standin, repository)
    assert report.drifted and report.exit_code == 1
    assert (
        "REGRESSION timeout on lookup/http-lookup: done -> greet; now reaches a success branch"
        in report.lines()
    )
    names = tuple(f"{k} on lookup/http-lookup: " for k in CLASSES)
    assert all(line.removeprefix("REGRESSION ").startswith(names) for line in report.lines())
    assert len(report.lines()) == len(CLASSES)


async def test_a_text_only_change_is_listed_apart_and_is_not_drift(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    repository = write_flows(tmp_path, small_tenant())
    ui = copy.deepcopy(dict(standin.store.flows["greeting"].document))
    ui["steps"][0]["configuration"]["prompt"] = "Hello there"
    standin.store.seed([ui])
    report = await drift_of(standin, repository)
    assert not report.drifted
    assert report.text_only == {"greeting": ("/steps/0/configuration/prompt",)}


async def test_a_folder_may_call_subflows_it_does_not_hold(
    standin: FlowApiStandIn, tmp_path: Path
) -> None:
    report = await drift_of(standin, write_flows(tmp_path, small_tenant()[:1]))
    assert report.flows == ("ivr",) and not report.drifted
    ui = copy.deepcopy(dict(standin.store.flows["ivr"].document))
    ui["steps"][1]["configuration"]["queue"] = "voicemail-overflow"
    standin.store.seed([ui])
    report = await drift_of(standin, write_flows(tmp_path, small_tenant()[:1]))
    assert report.text_only == {"ivr": ("/steps/1/configuration/queue",)}


async def test_a_flow_the_tenant_lacks_is_drift(standin: FlowApiStandIn, tmp_path: Path) -> None:
    extra = {"id": "extra", "name": "x", "flowType": "SubFlow",
             "steps": [{"id": "r", "type": "Return", "configuration": {}}]}  # fmt: skip
    report = await drift_of(standin, write_flows(tmp_path, [*small_tenant(), extra]))
    assert report.drifted and report.missing == ("extra",)
    assert report.lines() == ["extra: not deployed"]


CLASSES = (
    "success", "no match", "202", "400", "401", "403", "404", "409", "429", "5xx",
    "timeout", "connection", "dns", "too large",
)  # fmt: skip
