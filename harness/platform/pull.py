"""`ivr-harness pull DEST`: the deployed flows, and every SubFlow they call, as a flow folder.

Each document is written in the one canonical text (:func:`harness.flow.documents.canonical_text`),
so pulling twice gives the same bytes and a pull after a deploy changes only what the
deploy changed: ready for git. A flow already in DEST under another file name keeps
that file; a new one becomes ``<flowId>.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigError
from harness.flow.documents import canonical_text
from harness.platform.client import Deployed, FlowApi
from harness.platform.tenant import fetch_closure, flow_set, safe_name

__all__ = ["Pulled", "pull", "target_files"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pulled:
    """What a pull fetched, and the text each file of DEST gets."""

    flows: Mapping[str, Deployed]
    paths: Mapping[str, Path]  # flow id -> its file in DEST
    files: Mapping[Path, str]  # path -> canonical text
    changed: tuple[Path, ...]  # files whose bytes differ from what DEST held (or new)


async def pull(api: FlowApi, dest: Path, ids: Sequence[str] = ()) -> Pulled:
    """Fetch ``ids`` (default: every flow of the tenant) with their SubFlows; nothing is written."""
    await api.require(("api:read",))
    wanted = list(ids) or await api.list_flows()
    found = await fetch_closure(api, wanted)
    for flow_id in wanted:
        if found.get(flow_id) is None:
            raise ConfigError(f"the tenant holds no flow '{flow_id}'", file="--flow")
    flows = {k: v for k, v in found.items() if v is not None}
    flow_set({k: v.document for k, v in flows.items()}, source="the tenant")
    paths = target_files(dest, flows)
    files = {paths[k]: canonical_text(v.document) for k, v in sorted(flows.items())}
    changed = tuple(p for p, text in files.items() if _current(p) != text)
    return Pulled(flows=flows, paths=paths, files=files, changed=changed)


def target_files(dest: Path, flow_ids: Iterable[str]) -> dict[str, Path]:
    """DEST's file for each flow: the file already holding it, else ``<id>.json`` -- unless
    that file holds another flow, which a pull never overwrites (ConfigError)."""
    existing = _ids_in(dest)
    taken = {path: flow_id for flow_id, path in existing.items()}
    paths: dict[str, Path] = {}
    for flow_id in sorted(flow_ids):
        path = existing.get(flow_id, dest / f"{safe_name(flow_id)}.json")
        other = taken.get(path, flow_id)
        if other != flow_id:
            raise ConfigError(
                f"this file holds flow '{other}'; pulling flow '{flow_id}' would overwrite it",
                file=path,
                hint="rename the file, or pull into another folder",
            )
        paths[flow_id] = path
    return paths


def _ids_in(dest: Path) -> dict[str, Path]:
    """Flow id -> file for the flow files DEST already holds (unreadable files ignored)."""
    found: dict[str, Path] = {}
    if not dest.is_dir():
        return found
    for path in sorted(dest.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(document, dict) and isinstance(document.get("id"), str):
            found.setdefault(document["id"], path)
    return found


def _current(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
