"""Bounded, decoded input: what a user sees when a file is not what the harness expects."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.inputs import check_run_id, parse_json, parse_toml, parse_yaml, read_text

DEEP = 100_000


def alias_bomb(levels: int = 9) -> str:
    """The billion-laughs document: each anchor a list of nine aliases of the previous."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_non_utf8_names_the_byte_offset_and_line(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b'{\n  "name": "caf\xe9"\n}\n')
    with pytest.raises(ConfigError) as info:
        read_text(path, what="flow file")
    assert str(info.value).startswith(str(path))
    assert "not UTF-8: byte 0xe9 at offset 16 (line 2)" in str(info.value)


def test_a_bom_is_not_part_of_the_document(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}')
    assert parse_json(read_text(path)) == {"a": 1}


def test_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"x" * 2048)
    with pytest.raises(ConfigError, match="over the 1 KB input limit"):
        read_text(path, what="scenario", max_bytes=1024)


@pytest.mark.parametrize(
    "parse,text",
    [
        (parse_json, "[" * DEEP + "]" * DEEP),
        (parse_json, '{"a":' * DEEP + "1" + "}" * DEEP),
        (parse_yaml, "a: " + "[" * DEEP + "]" * DEEP),
        (parse_yaml, "".join(" " * i + "k:\n" for i in range(200))),
        (parse_toml, "a = " + "[" * DEEP + "]" * DEEP),
    ],
    ids=["json-array", "json-object", "yaml-flow", "yaml-block", "toml"],
)
def test_deep_nesting_is_a_config_error_not_a_recursion_error(parse: object, text: str) -> None:
    with pytest.raises(ConfigError, match="nested more than 64 levels deep"):
        parse(text, file="deep")  # type: ignore[operator]


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    assert parse_json('{"a": "' + "[" * 500 + '"}') == {"a": "[" * 500}


def test_yaml_alias_bomb_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match="alias bomb"):
        parse_yaml(alias_bomb(), file="bomb.yaml")
    assert time.monotonic() - started < 20  # a hang check: unbounded, this eats gigabytes


def test_modest_aliases_still_work() -> None:
    assert parse_yaml("a: &x {b: 1}\nc: *x\n") == {"a": {"b": 1}, "c": {"b": 1}}


@pytest.mark.parametrize(
    "parse,text,needle",
    [
        (parse_json, '{"a": 1,\n "a": 2}', "duplicate key 'a' at line 2"),
        (parse_yaml, "a: 1\nb: 2\na: 3\n", "duplicate key 'a' at line 3 column 1"),
        (parse_yaml, "a: &a [*a]\n", "recursive YAML alias"),
        (parse_yaml, "a: \x00\n", "not valid YAML at line 1: character #x0000"),
        (parse_yaml, "a: [1\n", "not valid YAML at line 2"),
        (parse_json, '{"a": }', "not valid JSON at line 1 column 7"),
        (parse_toml, "a = = 1", "not valid TOML"),
        (parse_toml, "a = 1\na = 2", "not valid TOML"),
    ],
)
def test_errors_name_file_and_line(parse: object, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text, file="in.txt")  # type: ignore[operator]
    message = str(info.value)
    assert message.startswith("in.txt: ") and needle in message and "\n" not in message


@pytest.mark.parametrize("ok", ["nightly", "20240601T010203Z-abc123", "run_1.2", "A"])
def test_plain_run_ids_pass(ok: str) -> None:
    assert check_run_id(ok) == ok


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "..",
        "../../../somewhere",
        "a/b",
        "a\\b",
        "/abs",
        ".hidden",
        "a..b",
        "x y",
        "é",
        "a" * 129,
    ],
)
def test_run_ids_that_could_leave_the_report_dir_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="is not a plain name"):
        check_run_id(bad)
