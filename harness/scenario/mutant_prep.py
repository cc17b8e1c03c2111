"""Mutants made, written out, loaded, linted and diffed: ready for `mutate` to run.

`--flow`, `--trap` and `--mutant` select among them (each repeatable, all must hold),
then `--sample` draws from what is left; mutant ids are numbered over every mutant of
the flow set, so an id names the same mutant whatever the selection.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError, did_you_mean
from harness.flow.diff import diff_flow_sets
from harness.flow.lint import lint_flow_set
from harness.flow.loader import assemble_flow_set, load_flow_set, parse_flow
from harness.flow.model import Flow, FlowSet
from harness.flow.mutants import TRAPS, Mutant, mutants, sample
from harness.inputs import parse_json, read_text
from harness.scenario.incremental import Incremental, flow_digests, static_key
from harness.scenario.mutant_verdict import MutantResult
from harness.scenario.runner import FlowSetRef

__all__ = ["Prepared", "prepare"]

# Traps whose effect is outside what diff compares (routes and dead air).
_DIFF_BLIND = frozenset({"post-retried-without-idempotency-key"})


@dataclass(kw_only=True)
class Prepared:
    """Mutants written to disk and linted, ready for the suite."""

    flow_set: str
    seed: int
    loaded: dict[str, tuple[Mutant, FlowSetRef, tuple[str, ...]]]
    invalid: list[MutantResult]
    changed: dict[str, bool] = field(default_factory=dict)  # mutant id -> diff sees a change
    # The original flow set and its documents (file name -> flow document).
    original: FlowSetRef | None = None
    documents: Mapping[str, Any] = field(default_factory=dict)


def prepare(
    flow_dir: Path,
    folder: Path,
    *,
    size: int | None = None,
    seed: int = 0,
    dead_air_ms: int = 8000,
    extra: Sequence[Mutant] = (),
    lint: bool = True,
    flows: Sequence[str] = (),
    traps: Sequence[str] = (),
    ids: Sequence[str] = (),
    incremental: Incremental | None = None,
) -> Prepared:
    """Every mutant of the flow set in `flow_dir` of the flows, traps and ids asked for
    (all when empty), or a seeded sample of them, plus `extra` mutants of the caller's
    own, written under `folder` and (unless `lint` is false, to judge the scenarios
    alone) linted against the original's lint errors. `incremental` keeps each mutant's
    lint and diff findings, which depend on its documents alone."""
    original = load_flow_set(flow_dir)
    documents = {
        p.name: parse_json(read_text(p, what="flow"), file=p)
        for p in sorted(flow_dir.glob("*.json"))
    }
    every = list(mutants(original, documents))
    chosen = sample(_select(every, flow_dir, original, flows, traps, ids), size, seed)
    prepared = Prepared(
        flow_set=flow_dir.name,
        seed=seed,
        loaded={},
        invalid=[],
        original=FlowSetRef(name=flow_dir.name, path=flow_dir, flows=original),
        documents=documents,
    )
    by_file = {f.path.name: f for f in original if f.path is not None}
    statics = _Statics(original, documents, dead_air_ms, lint, incremental)
    for mutant in [*chosen, *extra]:
        try:
            flows_ = _load(folder / mutant.id, mutant.documents, documents, by_file)
        except HarnessError as exc:
            prepared.invalid.append(MutantResult(mutant=mutant, status="invalid", error=str(exc)))
            continue
        found, changed = statics.of(mutant, flows_)
        ref = FlowSetRef(name=mutant.id, path=folder / mutant.id, flows=flows_)
        prepared.loaded[mutant.id] = (mutant, ref, found)
        prepared.changed[mutant.id] = changed
    return prepared


class _Statics:
    """A mutant's new lint errors and whether diff sees a change: computed, or kept."""

    def __init__(
        self,
        original: FlowSet,
        documents: Mapping[str, Any],
        dead_air_ms: int,
        lint: bool,
        incremental: Incremental | None,
    ) -> None:
        self.original = original
        self.dead_air_ms = dead_air_ms
        self.lint = lint
        self.incremental = incremental
        self.context = {"original": flow_digests(documents), "lint": lint, "dead_air": dead_air_ms}
        self._baseline: set[str] | None = None

    def of(self, mutant: Mutant, flows: FlowSet) -> tuple[tuple[str, ...], bool]:
        key = static_key(mutant, self.context) if self.incremental is not None else ""
        kept = self.incremental.static(key) if self.incremental is not None else None
        if kept is not None:
            return kept
        if self._baseline is None:
            self._baseline = _lint_errors(self.original, self.dead_air_ms) if self.lint else set()
        found = _lint_errors(flows, self.dead_air_ms) if self.lint else set()
        changes = diff_flow_sets(self.original, flows, budget_ms=self.dead_air_ms).changes
        result = tuple(sorted(found - self._baseline)), bool(changes) or mutant.trap in _DIFF_BLIND
        if self.incremental is not None:
            self.incremental.keep_static(key, *result)
        return result


def _select(
    every: list[Mutant],
    flow_dir: Path,
    original: FlowSet,
    flows: Sequence[str],
    traps: Sequence[str],
    ids: Sequence[str],
) -> list[Mutant]:
    """The mutants of `--flow`, `--trap` and `--mutant` (each repeatable; all must hold)."""
    known = {
        "flow": (flows, [f.id for f in original]),
        "trap": (traps, list(TRAPS)),
        "mutant": (ids, [m.id for m in every]),
    }
    for option, (asked, names) in known.items():
        for name in asked:
            if name not in names:
                raise ConfigError(
                    f"--{option} {name}: no such {option} among the mutants of this flow set",
                    file=flow_dir,
                    hint=did_you_mean(name, names) or "known: " + ", ".join(names[:12]),
                )
    chosen = [
        m
        for m in every
        if (not flows or m.flow_id in flows)
        and (not traps or m.trap in traps)
        and (not ids or m.id in ids)
    ]
    if every and not chosen:
        raise ConfigError(
            "no mutant matches --flow, --trap and --mutant together",
            file=flow_dir,
            hint="each option narrows the others; drop one",
        )
    return chosen


def _load(
    folder: Path,
    documents: Mapping[str, Any],
    originals: Mapping[str, Any],
    by_file: Mapping[str, Flow],
) -> FlowSet:
    """The mutant's documents written under `folder` and loaded; a flow the mutant left
    as it was is the original's own (validated once, not once per mutant)."""
    folder.mkdir(parents=True)
    flows = []
    for name, document in documents.items():
        text = json.dumps(document, indent=2)
        (folder / name).write_text(text, encoding="utf-8")
        same = by_file.get(name)
        if same is not None and originals.get(name) == document:
            flows.append(same)
        else:
            flows.append(parse_flow(document, path=folder / name, source=text))
    return assemble_flow_set(flows, folder)


def _lint_errors(flows: FlowSet, dead_air_ms: int) -> set[str]:
    findings = lint_flow_set(flows, dead_air_budget_ms=dead_air_ms)
    return {f"{f.rule_id} {f.rule.name}" for f in findings if f.severity == "error"}
