"""The gated release behind `ivr-harness deploy`: all of it is written, or none of it.

A :class:`Release` goes through three phases, each filling it in, so the reports can be
written whatever point it reached (the CLI runs the two network phases on their own
event loops and the gate, which is CPU-bound and synchronous, between them):

1. :func:`read_tenant` -- every deployed flow, and the step dependencies of the release
   on them (:mod:`harness.platform.depends`); a broken one refuses the release.
2. :func:`judge` -- the gate on what will be live (the release's flows and every SubFlow
   they call), with the behavioural diff against what is live now; then the plan: the
   changed flows in dependency order (SubFlows first), each with the next version number.
   ``--dry-run`` stops here.
3. :func:`apply` -- each flow PUT with ``If-Match`` on the version read in phase 1, then
   read back and compared. On any failure, and on SIGINT/SIGTERM, every flow already
   written (and the one in flight, once read back) is put back to its previous document,
   byte for byte, or deleted when the release created it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import ConfigError, ContractFailure, HarnessError
from harness.flow.documents import same_content, subflow_refs, text_differences
from harness.flow.loader import load_flow_set
from harness.platform.client import Deployed, FlowApi
from harness.platform.depends import check_dependencies, release_order
from harness.platform.errors import ReadBackMismatch, VersionConflict
from harness.platform.tenant import fetch_all, flow_set, write_folder

if TYPE_CHECKING:
    from harness.contract.gate import GateResult
    from harness.flow.diff import FlowDiff

__all__ = [
    "Planned",
    "Release",
    "ReleaseOptions",
    "apply",
    "judge",
    "load_release",
    "plan",
    "read_tenant",
]

Status = Literal[
    "planned", "deployed", "unchanged", "dry-run", "refused", "conflict", "failed", "interrupted"
]
Documents = dict[str, dict[str, Any]]
DEFAULT_DEAD_AIR_MS = 8000


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseOptions:
    """What `deploy` was asked; ``work`` is the run's report folder."""

    flows: Path
    specs: tuple[str, ...] = ()
    work: Path = Path("reports")
    dead_air_ms: int | None = None
    lint_config: Path | None = None
    baseline: Path | None = None
    max_examples: int = 150
    dry_run: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Planned:
    """One flow of the plan."""

    flow_id: str
    action: Literal["create", "update", "unchanged"]
    document: Mapping[str, Any]  # what is PUT (its version set), or the deployed one
    before: Deployed | None

    @property
    def to_version(self) -> int:
        value = self.document.get("version", 1)
        return value if isinstance(value, int) else 1

    @property
    def from_version(self) -> int | None:
        return self.before.version if self.before is not None else None


@dataclass(kw_only=True)
class Release:
    """One deploy, filled in phase by phase; the reports read whatever it reached."""

    options: ReleaseOptions
    documents: Documents
    files: dict[str, Path]
    deployed: dict[str, Deployed] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    gate: GateResult | None = None
    diff: FlowDiff | None = None
    plan: list[Planned] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    rollback: dict[str, str] = field(default_factory=dict)  # flow id -> what became of it
    rollback_complete: bool = True
    conflict: list[str] = field(default_factory=list)
    status: Status = "planned"
    error: str = ""
    harness_error: bool = False  # the failure was the harness's (exit 2), not the tenant's
    interrupted_by: str = ""

    @property
    def exit_code(self) -> int:
        if self.status in ("deployed", "unchanged", "dry-run"):
            return 0
        if not self.rollback_complete or self.harness_error:
            return 2
        return 1

    @property
    def changes(self) -> list[Planned]:
        return [p for p in self.plan if p.action != "unchanged"]

    def fail(self, exc: BaseException) -> None:
        self.status = "conflict" if isinstance(exc, VersionConflict) else "failed"
        self.harness_error = isinstance(exc, HarnessError)
        self.error = str(exc)


def load_release(path: Path, options: ReleaseOptions) -> Release:
    """The flow files of a release (a folder of ``*.json`` or one file), schema-checked.

    SubFlow ids are not resolved here: a release may call flows that are only deployed.
    """
    flows = load_flow_set(path, resolve_subflows=False)
    return Release(
        options=options,
        documents={flow.id: json.loads(flow.source) for flow in flows},
        files={flow.id: flow.path for flow in flows if flow.path is not None},
    )


async def read_tenant(api: FlowApi, release: Release) -> None:
    """Phase 1: what is deployed, and whether the release's dependencies hold against it."""
    await api.require(("api:read",))
    release.deployed = await fetch_all(api)
    deployed = {k: dict(v.document) for k, v in release.deployed.items()}
    release.problems = check_dependencies(release.documents, deployed)
    try:
        release_order(release.documents)
    except ConfigError as exc:
        release.problems.append(exc.detail)
    if release.problems:
        release.status = "refused"


def judge(release: Release) -> None:
    """Phase 2: the gate on what will be live, the diff against what is, then the plan."""
    from harness.contract.gate import GateOptions, run_gate

    if release.problems:
        release.status = "refused"
        return
    options = release.options
    after, before = _live_sets(release)
    judged = write_folder(options.work / "release", after)
    previous = write_folder(options.work / "deployed", before) if before else None
    release.gate = run_gate(
        GateOptions(
            flows=judged,
            specs=options.specs,
            report_dir=options.work,
            dead_air_ms=options.dead_air_ms,
            lint_config=options.lint_config,
            max_examples=options.max_examples,
            run_id="gate",
            baseline=options.baseline,
            against=str(previous) if previous is not None and _loads(before) else None,
        )
    )
    diff_part = next((p for p in release.gate.parts if p.name == "diff"), None)
    release.diff = diff_part.raw if diff_part is not None else None
    if release.gate.verdict != "passed":
        release.status = "refused" if release.gate.verdict == "failed" else "failed"
        release.harness_error = release.gate.verdict == "error"
        release.error = f"the gate {release.gate.verdict}"
        return
    release.plan = plan(release)
    if not release.changes:
        release.status = "unchanged"
    elif options.dry_run:
        release.status = "dry-run"


async def apply(api: FlowApi, release: Release) -> None:
    """Phase 3: write the plan; on any failure or interruption put everything back."""
    written: list[Planned] = []
    in_flight: Planned | None = None
    try:
        await api.require(_scopes_for(release.changes))
        for item in release.changes:
            in_flight = item
            try:
                await api.put(item.flow_id, item.document, expect=item.before)
            except ContractFailure:
                in_flight = None  # refused outright (409, 403, 400): none of it landed
                raise
            written.append(item)
            in_flight = None
            back = await api.get(item.flow_id)
            if back is None or back.document != item.document:
                raise ReadBackMismatch(
                    item.flow_id, f"{item.flow_id} reads back {_state(back)}, not what was sent"
                )
            release.written.append(item.flow_id)
        release.status = "deployed"
    except (ContractFailure, HarnessError) as exc:
        release.fail(exc)
        if isinstance(exc, VersionConflict):
            release.conflict = _conflict_lines(release, exc)
        await _to_the_end(_roll_back(api, release, written, in_flight))
    except asyncio.CancelledError:
        release.status = "interrupted"
        await _to_the_end(_roll_back(api, release, written, in_flight))
        raise


async def _to_the_end(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to its end in a task of its own, whatever signal arrives meanwhile;
    a cancellation received on the way is raised once it is done."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


async def _roll_back(
    api: FlowApi, release: Release, written: list[Planned], in_flight: Planned | None
) -> None:
    """Put back every written flow, newest first; the one in flight only if it landed."""
    release.written.clear()
    items = [(item, False) for item in written] + ([(in_flight, True)] if in_flight else [])
    for item, uncertain in reversed(items):
        try:
            line = await _undo(api, item, uncertain)
        except (ContractFailure, HarnessError) as exc:
            release.rollback_complete = False
            line = f"NOT rolled back: {exc}"
        release.rollback[item.flow_id] = line


async def _undo(api: FlowApi, item: Planned, uncertain: bool) -> str:
    current = await api.get(item.flow_id)
    mine = current is not None and current.document == item.document
    before = item.before
    if current is not None and mine and before is None:
        await api.delete(item.flow_id, expect=current)
        return "deleted (the release had created it)"
    if current is not None and mine and before is not None:
        await api.put(item.flow_id, before.document, expect=current)
        return f"put back to version {before.version}"
    if before is None and current is None:
        return "never created"
    if before is not None and current is not None and current.text == before.text:
        if uncertain:
            # A copy of the interrupted write may still reach the server; writing the same
            # document again moves the ETag, so that copy's If-Match can no longer hold.
            await api.put(item.flow_id, before.document, expect=current)
        return f"untouched, still version {before.version}"
    raise ContractFailure(
        f"{item.flow_id} changed on the tenant meanwhile", f"it now holds {_state(current)}"
    )


def _live_sets(release: Release) -> tuple[Documents, Documents]:
    """(what will be live, what is live) for the release's flows and the SubFlows they call."""
    deployed = {k: dict(v.document) for k, v in release.deployed.items()}
    after = _closure(release.documents, {**deployed, **release.documents})
    before = _closure({k: deployed[k] for k in after if k in deployed}, deployed)
    return after, before


def _closure(start: Mapping[str, dict[str, Any]], pool: Mapping[str, dict[str, Any]]) -> Documents:
    found: Documents = {}
    todo = list(start)
    while todo:
        flow_id = todo.pop()
        if flow_id in found or flow_id not in pool:
            continue
        found[flow_id] = pool[flow_id]
        todo += [child for _, child in subflow_refs(pool[flow_id])]
    return found


def _loads(documents: Documents) -> bool:
    try:
        flow_set(documents, source="the tenant")
    except ConfigError:
        return False
    return True


def plan(release: Release) -> list[Planned]:
    """The release's flows in dependency order: unchanged (same content as deployed), or
    created at version 1, or updated to the deployed version + 1."""
    planned = []
    for flow_id in release_order(release.documents):
        document = release.documents[flow_id]
        before = release.deployed.get(flow_id)
        if before is not None and same_content(before.document, document):
            planned.append(
                Planned(
                    flow_id=flow_id, action="unchanged", document=before.document, before=before
                )
            )
            continue
        version = before.version + 1 if before is not None else 1
        planned.append(
            Planned(
                flow_id=flow_id,
                action="update" if before is not None else "create",
                document={**document, "version": version},
                before=before,
            )
        )
    return planned


def _scopes_for(changes: list[Planned]) -> tuple[str, ...]:
    """``flow:edit`` to write; ``integration:manage`` too when a flow calls out (HTTP steps)."""
    calls_out = any(
        isinstance(s, Mapping) and s.get("type") == "HTTPRequest"
        for p in changes
        for s in p.document.get("steps") or ()
    )
    return ("flow:edit", "integration:manage") if calls_out else ("flow:edit",)


def _conflict_lines(release: Release, conflict: VersionConflict) -> list[str]:
    """What the tenant holds now against this release: diff's lines, else the JSON pointers."""
    from harness.flow.diff import diff_flow_sets

    current = conflict.current
    ours = release.documents.get(conflict.flow_id, {})
    state = "no longer exists" if current is None else f"is at version {current.version}"
    lines = [f"{conflict.flow_id} {state} on the tenant; this release would overwrite it"]
    after, before = _live_sets(release)
    if current is None:
        before.pop(conflict.flow_id, None)
    else:
        before[conflict.flow_id] = dict(current.document)
    try:
        diff = diff_flow_sets(
            flow_set(before, source="the tenant"),
            flow_set(after, source="the release"),
            budget_ms=release.options.dead_air_ms or DEFAULT_DEAD_AIR_MS,
        )
        lines += diff.lines()
    except ConfigError:
        pass
    if current is not None and len(lines) == 1:
        pointers = text_differences(current.document, ours)
        lines += [f"text differs at {p}" for p in pointers] or ["no difference in content"]
    return lines


def _state(deployed: Deployed | None) -> str:
    return "nothing" if deployed is None else f"version {deployed.version} ({deployed.etag})"
