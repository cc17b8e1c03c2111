"""Bounded, decoded input: every file a user hands the harness goes through here.

A flow, a scenario, a spec or a lint config is read with a size cap, decoded as strict
UTF-8, parsed with a nesting-depth cap checked *before* a recursive parser can hit
Python's recursion limit, and (for YAML) with a safe loader, no duplicate keys and a
budget on what aliases may expand to, so a few hundred bytes cannot become gigabytes.
Every failure is a :class:`ConfigError` naming the file and the line or byte offset.

Core module: it depends on nothing of ours but :mod:`harness.errors`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import re
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from harness.errors import ConfigError

if yaml.__with_libyaml__:
    from yaml._yaml import CParser
else:  # PyYAML built without libyaml: the pure-Python parser does the same, slower
    CParser = object  # type: ignore[misc,assignment]

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_SAFE_INTEGER",
    "check_numbers",
    "check_run_id",
    "nested_deeper",
    "parse_json",
    "parse_toml",
    "parse_yaml",
    "read_bytes",
    "read_text",
]

MAX_BYTES = 16 * 1024 * 1024  # a bundled OpenAPI spec is ~20 KB; real ones stay far below
MAX_DEPTH = 64  # flows nest ~8 deep, OpenAPI specs ~20; recursive parsers die near 1000
MAX_NODES = 2_000_000  # after YAML aliases are expanded: the size every consumer walks

# String literals (and TOML comments), dropped before brackets are counted. An unclosed
# string runs to where it stops (its closing quote is optional): a closing quote that is
# required makes the regex engine retry from every later quote, quadratic on a file of
# '"\' repeated (8,000 of them took 0.8 s, a 16 MB file would take days).
_STRINGS = {
    "json": re.compile(r'"(?:[^"\\]|\\.)*"?'),
    "toml": re.compile(
        r'"""[\s\S]*?(?:"""|\Z)|\'\'\'[\s\S]*?(?:\'\'\'|\Z)|"(?:[^"\\\n]|\\.)*"?|\'[^\'\n]*\'?|#.*'
    ),
}
_BRACKETS = re.compile(r"[\[\]{}]")


def read_text(path: Path, *, what: str = "file", max_bytes: int = MAX_BYTES) -> str:
    """The UTF-8 text of `path` (a leading BOM dropped), or a ConfigError.

    `what` names the kind of file in messages ("flow file", "scenario").
    """
    data = read_bytes(path, what=what, max_bytes=max_bytes)
    if len(data) > max_bytes:
        raise ConfigError(
            f"{what} is over the {max_bytes // 1024} KB input limit",
            file=path,
            hint="a file this large is not a hand-written document; check the path",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{what} is not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} "
            f"(line {line})",
            file=path,
            hint="save the file as UTF-8",
        ) from None


def read_bytes(path: Path, *, what: str = "file", max_bytes: int = MAX_BYTES) -> bytes:
    """At most ``max_bytes + 1`` bytes of the regular file ``path``, or a ConfigError.

    Opened without blocking and refused unless it is a regular file: a FIFO would block
    the open until some writer came (forever, in CI), a device could be read without end.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", file=path) from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(
                f"cannot read {what}: not a regular file", file=path, hint="pass a file"
            )
        try:
            return fh.read(max_bytes + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", file=path) from None


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a parser builds a document.

    A parser allocates millions of containers and frees none, and each allocation burst
    sets off a collection that walks everything built so far: a 12 MB spec took 24 s with
    the collector and 9 s without (linear). Parsed documents hold no cycles to collect.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def nested_deeper(text: str, max_depth: int) -> bool:
    """Whether JSON text nests brackets (outside strings) more than ``max_depth`` deep."""
    return _past_depth(text, "json", max_depth) is not None


def _past_depth(text: str, syntax: str, max_depth: int) -> tuple[str, int] | None:
    """The text without strings and the offset in it where ``max_depth`` is passed."""
    stripped = _STRINGS[syntax].sub("", text)
    depth = 0
    for match in _BRACKETS.finditer(stripped):
        depth += 1 if match.group() in "[{" else -1
        if depth > max_depth:
            return stripped, match.start()
    return None


def _check_depth(text: str, syntax: str, file: Path | str | None, max_depth: int) -> None:
    """Bracket depth outside strings, scanned without recursion, before the parser runs."""
    past = _past_depth(text, syntax, max_depth)
    if past is not None:
        stripped, offset = past
        # JSON strings hold no raw newline, so the line in the stripped text is exact there.
        line = stripped.count("\n", 0, offset) + 1
        raise ConfigError(
            f"nested more than {max_depth} levels deep (from about line {line})",
            file=file,
            hint="no flow, scenario, spec or config needs this; is the file generated?",
        )


def parse_json(
    text: str,
    *,
    file: Path | str | None = None,
    hint: str = "",
    max_depth: int = MAX_DEPTH,
    interop_numbers: bool = True,
) -> Any:
    """Strict JSON: a depth cap, no duplicate keys; syntax errors give line and column.

    With ``interop_numbers`` (the default), every number must be one JSON carries
    between programs: see :func:`check_numbers`.
    """
    _check_depth(text, "json", file, max_depth)
    try:
        with _collector_paused():
            document = json.loads(text, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            file=file,
            hint=hint,
        ) from None
    except _DuplicateKey as exc:
        line = _line_of_second(text, json.dumps(exc.key) + r"\s*:")
        raise ConfigError(
            f"duplicate key '{exc.key}'{line}",
            file=file,
            hint="each key may appear once per object; the second would silently win",
        ) from None
    return check_numbers(document, file) if interop_numbers else document


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(key)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _line_of_second(text: str, pattern: str) -> str:
    found = list(re.finditer(pattern, text))
    return f" at line {text.count(chr(10), 0, found[1].start()) + 1}" if len(found) > 1 else ""


def parse_toml(
    text: str,
    *,
    file: Path | str | None = None,
    max_depth: int = MAX_DEPTH,
    interop_numbers: bool = True,
) -> Any:
    """TOML with a depth cap (tomllib already rejects duplicate keys), numbers checked."""
    _check_depth(text, "toml", file, max_depth)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=file) from None
    return check_numbers(document, file) if interop_numbers else document


def parse_yaml(
    text: str,
    *,
    file: Path | str | None = None,
    hint: str = "",
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
    interop_numbers: bool = True,
) -> Any:
    """YAML through the safe loader, with a depth cap, no duplicate keys, and an alias budget.

    The document is composed first (cheap: an alias is a shared node), its expanded size
    is counted with a memo, and only then is it constructed, so an alias bomb fails in
    milliseconds instead of after every consumer has walked billions of nodes. Numbers
    are checked as in :func:`parse_json` (YAML's ``.nan`` and ``.inf`` included).
    """
    try:
        with _collector_paused():
            document = _load_bounded(text, max_depth, max_nodes)
    except _InputProblem as exc:
        raise ConfigError(exc.message, file=file, hint=exc.hint or hint) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "malformed YAML"
        raise ConfigError(f"not valid YAML{where}: {problem}", file=file, hint=hint) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(
            f"not valid YAML at line {line}: character #x{exc.character:04x} is not allowed",
            file=file,
            hint="remove control characters; YAML allows tab, newline and printable text",
        ) from None
    except yaml.YAMLError as exc:  # one line: the CLI prints exactly one
        raise ConfigError(f"not valid YAML: {' '.join(str(exc).split())}", file=file) from None
    return check_numbers(document, file) if interop_numbers else document


MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON reader holds exactly (RFC 7493, I-JSON; JavaScript)."""


def check_numbers(document: Any, file: Path | str | None = None) -> Any:
    """``document`` if every number in it is finite and integers are within ±(2**53 - 1).

    NaN passes every range check (each comparison with it is false), so a schema's
    ``minimum``/``maximum`` cannot keep it out; infinity and integers past 2**53 turn into
    endless waits or OverflowErrors further on. A ConfigError names the first one's JSON
    pointer. Shared containers (YAML aliases) are walked once.
    """
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        node, pointer = stack.pop()
        if isinstance(node, dict | list):
            if id(node) in seen:
                continue
            seen.add(id(node))
            items = node.items() if isinstance(node, dict) else enumerate(node)
            pairs = [(value, f"{pointer}/{_token(key)}") for key, value in items]
            stack.extend(reversed(pairs))  # the first one in the file is reported
        elif isinstance(node, float) and not math.isfinite(node):
            raise ConfigError(
                f"{node} is not a finite number",
                file=file,
                pointer=pointer,
                hint="write the number you mean; NaN and infinity are not JSON numbers",
            )
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) > MAX_SAFE_INTEGER:
            raise ConfigError(
                "integer past 2**53 - 1, the largest every JSON reader holds exactly",
                file=file,
                pointer=pointer,
                hint="a duration, count or id this large is a mistake; write a smaller one",
            )
    return document


def _token(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _load_bounded(text: str, max_depth: int, max_nodes: int) -> Any:
    loader = _Loader(text, max_depth)  # the reader rejects control characters here
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, max_nodes, {}, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


class _InputProblem(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)


def _at(node: yaml.Node) -> str:
    return f"at line {node.start_mark.line + 1} column {node.start_mark.column + 1}"


class _Bounded(Composer, SafeConstructor, Resolver):
    """Composer and safe constructor that count nesting and refuse duplicate keys."""

    def _bounded_init(self, max_depth: int) -> None:
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0
        self._max_depth = max_depth

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > self._max_depth:
                mark = self.peek_event().start_mark  # type: ignore[attr-defined]
                raise _InputProblem(
                    f"nested more than {self._max_depth} levels deep at line {mark.line + 1}",
                    "no flow, scenario, spec or config needs this; is the file generated?",
                )
            node: yaml.Node | None = super().compose_node(parent, index)
            return node
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
                if key in seen:
                    raise _InputProblem(
                        f"duplicate key '{key}' {_at(key_node)}",
                        "each key may appear once per mapping; the second would silently win",
                    )
                seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


class _PythonLoader(Reader, Scanner, Parser, _Bounded):
    def __init__(self, text: str, max_depth: int) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        self._bounded_init(max_depth)


class _LibyamlLoader(_Bounded, CParser):
    """libyaml's events under the Python composer, which must count depth and aliases;
    about 4x faster than the pure-Python parser on the bundled specs."""

    def __init__(self, text: str, max_depth: int) -> None:
        CParser.__init__(self, text)
        self._bounded_init(max_depth)


_Loader: type[_PythonLoader | _LibyamlLoader] = (
    _LibyamlLoader if yaml.__with_libyaml__ else _PythonLoader
)


def _expanded_size(node: yaml.Node, budget: int, memo: dict[int, int], active: set[int]) -> int:
    """Nodes `node` stands for once every alias is expanded (cycles refused)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise _InputProblem(f"recursive YAML alias {_at(node)}", "an anchor cannot contain itself")
    size = 1
    if isinstance(node, yaml.CollectionNode):
        active.add(key)
        children = (
            [part for pair in node.value for part in pair]
            if isinstance(node, yaml.MappingNode)
            else node.value
        )
        for child in children:
            size += _expanded_size(child, budget, memo, active)
            if size > budget:
                raise _InputProblem(
                    f"YAML aliases expand to more than {budget} nodes (an alias bomb?) {_at(node)}",
                    "repeat the content instead of nesting aliases of aliases",
                )
        active.discard(key)
    memo[key] = size
    return size


_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_run_id(value: str) -> str:
    """`value` if it is a plain name usable as one folder under a report directory.

    Letters, digits, `.`, `_` and `-`, starting with a letter or digit, at most 128
    characters: no path separator, no `..`, nothing empty, so a run id can never
    write outside `--report-dir`. A ConfigError otherwise.
    """
    if not _RUN_ID.fullmatch(value) or ".." in value:
        raise ConfigError(
            f"run id {value!r} is not a plain name",
            file="--run-id",
            hint="use letters, digits, '.', '_' and '-' (e.g. nightly-2024-06-01), "
            "no path separators or '..'",
        )
    return value
