"""`mutate --incremental FILE`: reuse what earlier runs found, where nothing it rests on changed.

As Stryker's incremental report: the file keeps the original flow set's run and what
the scenarios did to each mutant, each under a key, and a later run reuses an entry
whose key still matches. A mutant's verdict is reused when

- the harness is the same (its version and a digest of its own code),
- the mutant is the same edit of the same flow document,
- the scenarios that cover it are the same (their content, the project's backends and
  the specs their stubs serve included) and the original fails the same checks of them,
- the options that shape a verdict (`--no-bail`, `--no-coverage`) are the same,
- and every flow its runs or the original's covering runs went through is unchanged
  (so editing one flow re-runs only the mutants whose runs reached it).

The original's run is reused when every flow document and every scenario is unchanged;
a mutant's lint and diff findings when its documents, the original's and the lint
options are. Secrets are neither written nor hashed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.flow.mutants import Mutant
from harness.inputs import parse_json, read_text
from harness.scenario.model import Scenario
from harness.scenario.original import Original
from harness.scenario.trials import Trial

__all__ = [
    "SCHEMA_ID",
    "Incremental",
    "flow_digests",
    "mutant_key",
    "original_key",
    "static_key",
]

SCHEMA_ID = "ivr-harness/mutation-incremental/v1"


@functools.cache
def harness_digest() -> str:
    """The harness's version and a digest of its own code: a new harness reuses nothing."""
    from harness import __version__

    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:16]}"


def _sha(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, Path):  # a spec a stub serves: its content, wherever it lies
        return hashlib.sha256(value.read_bytes()).hexdigest() if value.is_file() else str(value)
    return value


def scenario_digest(scenario: Scenario) -> str:
    """What the scenario does, without where its file lies and without its secrets."""
    fields = _plain(scenario)
    fields.pop("path", None)
    fields.pop("secrets", None)
    return _sha(fields)


def flow_digests(documents: Mapping[str, Any]) -> dict[str, str]:
    """Flow id -> digest of its document."""
    return {str(doc.get("id")): _sha(doc) for doc in documents.values() if isinstance(doc, dict)}


def original_key(
    documents: Mapping[str, Any], scenarios: Sequence[Scenario], options: Mapping[str, Any]
) -> str:
    return _sha(
        {
            "harness": harness_digest(),
            "flows": flow_digests(documents),
            "scenarios": [(s.name, scenario_digest(s)) for s in scenarios],
            "options": dict(options),
        }
    )


def static_key(mutant: Mutant, context: Mapping[str, Any]) -> str:
    """The key of a mutant's lint and diff findings: its documents, the original's, the
    lint options, the harness."""
    return _sha({"harness": harness_digest(), "flows": flow_digests(mutant.documents), **context})


def mutant_key(
    mutant: Mutant,
    covering: Sequence[Scenario],
    original: Original,
    options: Mapping[str, Any],
) -> str:
    return _sha(
        {
            "harness": harness_digest(),
            "edit": [mutant.trap, mutant.flow_id, mutant.step_id, mutant.field, mutant.change()],
            "flow": flow_digests(mutant.documents).get(mutant.flow_id, ""),
            "scenarios": [(s.name, scenario_digest(s)) for s in covering],
            "original": [list(original.runs[s.name].already) for s in covering],
            "options": dict(options),
        }
    )


class Incremental:
    """The entries of an --incremental file: read, matched, extended, written back."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._original: dict[str, Any] = {}
        self._mutants: dict[str, dict[str, Any]] = {}
        self._kept: dict[str, dict[str, Any]] = {}
        self._statics: dict[str, Any] = {}
        self._statics_kept: dict[str, Any] = {}
        self._seen: set[str] = set()  # ids of this run's mutants
        self.reused = 0

    @classmethod
    def load(cls, path: Path) -> Incremental:
        """The file's entries; an absent file is an empty start, one written by another
        harness is ignored, a malformed one is an error naming it."""
        cache = cls(path)
        if not path.exists():
            return cache
        document = parse_json(read_text(path, what="incremental mutation report"), file=path)
        try:
            if document["schema"] != SCHEMA_ID or document["harness"] != harness_digest():
                return cache
            cache._original = dict(document["original"])
            cache._mutants = {str(k): dict(v) for k, v in document["mutants"].items()}
            cache._statics = dict(document["static"])
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ConfigError(
                f"not an incremental mutation report ({exc!r} is missing or malformed)",
                file=path,
                hint="delete it: the next run with --incremental writes a fresh one",
            ) from None
        return cache

    def original(self, key: str) -> Original | None:
        if self._original.get("key") != key:
            return None
        try:
            found = Original.from_json(self._original["run"])
        except (KeyError, TypeError, ValueError) as exc:
            raise self._malformed("/original", exc) from None
        self._keep_original(key, found)
        return dataclasses.replace(found, reused=True)

    def keep_original(self, key: str, original: Original) -> None:
        self._keep_original(key, original)

    def _keep_original(self, key: str, original: Original) -> None:
        self._original = {"key": key, "run": original.to_json()}

    def static(self, key: str) -> tuple[tuple[str, ...], bool] | None:
        """A mutant's kept (new lint errors, diff sees a change)."""
        entry = self._statics.get(key)
        if entry is None:
            return None
        try:
            found = tuple(map(str, entry["lint"])), bool(entry["changed"])
        except (KeyError, TypeError) as exc:
            raise self._malformed(f"/static/{key}", exc) from None
        self._statics_kept[key] = entry
        return found

    def keep_static(self, key: str, lint: tuple[str, ...], changed: bool) -> None:
        self._statics_kept[key] = {"lint": list(lint), "changed": changed}

    def trial(self, key: str, mutant: Mutant) -> Trial | None:
        """The stored trial of this mutant, if every flow it went through is unchanged."""
        self._seen.add(mutant.id)
        entry = self._mutants.get(key)
        if entry is None:
            return None
        now = flow_digests(mutant.documents)
        try:
            deps: Mapping[str, str] = entry["flows"]
            if any(now.get(flow) != digest for flow, digest in deps.items()):
                return None
            found = Trial.from_json(entry["trial"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self._malformed(f"/mutants/{key}", exc) from None
        self._kept[key] = entry
        self.reused += 1
        return found

    def keep(self, key: str, mutant: Mutant, trial: Trial, flows: Iterable[str] | None) -> None:
        """Remember `trial`, resting on `flows` (None: every flow of the set)."""
        now = flow_digests(mutant.documents)
        deps = now if flows is None else {f: now.get(f, "") for f in {*flows, mutant.flow_id}}
        self._kept[key] = {
            "id": mutant.id,
            "change": mutant.change(),
            "flows": dict(sorted(deps.items())),
            "trial": trial.to_json(),
        }

    def to_json(self) -> dict[str, Any]:
        """What to write back: the original, the entries of this run's mutants, and the
        earlier entries of mutants this run did not select (`--sample`, `--mutant`...)."""
        earlier = {k: v for k, v in self._mutants.items() if v.get("id") not in self._seen}
        entries = {**earlier, **self._kept}
        return {
            "schema": SCHEMA_ID,
            "harness": harness_digest(),
            "original": self._original,
            "static": self._statics_kept,  # this run's mutants' (cheap to find again)
            "mutants": dict(sorted(entries.items(), key=lambda kv: str(kv[1].get("id")))),
        }

    def _malformed(self, pointer: str, exc: Exception) -> HarnessError:
        return ConfigError(
            f"malformed entry ({exc!r})",
            file=self.path,
            pointer=pointer,
            hint="delete the file: the next run with --incremental writes a fresh one",
        )
