"""`ivr-harness drift FLOWS`: does the tenant run what the repository holds?

The nightly question after every UI edit. The deployed versions of the repository's
flows (with every SubFlow they call; the folder may call SubFlows it does not hold, as a
release may) are compared with the repository by behaviour
(:func:`harness.flow.diff.diff_flow_sets`, old = the repository, new = the tenant): any
change is drift, printed with the lines `diff` prints. A flow whose text differs but
whose behaviour does not (a prompt, a comment, a queue name off every HTTP step's path)
is listed apart, with the JSON pointers that differ, and is not drift. A flow the tenant
does not hold is drift. Version numbers are the tenant's counter and never compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.flow.documents import same_content, text_differences
from harness.flow.model import FlowSet
from harness.platform.client import FlowApi
from harness.platform.tenant import fetch_closure, flow_set

if TYPE_CHECKING:
    from harness.flow.diff import FlowDiff

__all__ = ["DriftReport", "check_drift"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftReport:
    """The repository against the tenant."""

    flows: tuple[str, ...]  # the repository's flow ids
    missing: tuple[str, ...] = ()  # in the repository, not on the tenant
    diff: FlowDiff | None = None
    text_only: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # id -> pointers
    versions: Mapping[str, int] = field(default_factory=dict)  # deployed version by id

    @property
    def drifted(self) -> bool:
        return bool(self.missing) or (self.diff is not None and bool(self.diff.changes))

    @property
    def exit_code(self) -> int:
        return 1 if self.drifted else 0

    def lines(self) -> list[str]:
        """The behavioural changes as `diff` prints them, missing flows first."""
        found = [f"{flow_id}: not deployed" for flow_id in self.missing]
        return found + (self.diff.lines() if self.diff is not None else [])


async def check_drift(api: FlowApi, repository: FlowSet, *, budget_ms: int) -> DriftReport:
    """Fetch the repository's flows from the tenant and compare them by behaviour."""
    from harness.flow.diff import diff_flow_sets

    await api.require(("api:read",))
    ours = {flow.id: _document(flow.source) for flow in repository}
    deployed = await fetch_closure(api, ours, have=ours)
    missing = tuple(sorted(k for k in ours if deployed.get(k) is None))
    theirs = {k: dict(v.document) for k, v in deployed.items() if v is not None}
    # Each side is completed by the other: a SubFlow only deployed stands in the
    # repository's set, a flow the tenant lacks (reported as such) in the tenant's, so
    # that both load and only real differences show.
    mine = flow_set({**theirs, **ours}, source="the repository and the tenant")
    tenant = flow_set({**{k: ours[k] for k in missing}, **theirs}, source="the tenant")
    diff = diff_flow_sets(mine, tenant, budget_ms=budget_ms)
    behaved = {change.flow_id for change in diff.changes}
    text_only = {
        flow_id: tuple(text_differences(ours[flow_id], theirs[flow_id]))
        for flow_id in sorted(ours)
        if flow_id in theirs
        and flow_id not in behaved
        and not same_content(ours[flow_id], theirs[flow_id])
    }
    return DriftReport(
        flows=tuple(sorted(ours)),
        missing=missing,
        diff=diff,
        text_only=text_only,
        versions={k: v.version for k, v in deployed.items() if v is not None and k in ours},
    )


def _document(source: str) -> dict[str, Any]:
    document = json.loads(source)
    return document if isinstance(document, dict) else {}
