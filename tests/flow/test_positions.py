from __future__ import annotations

import json

from harness.flow.lint.positions import Position, SourceMap

TEXT = '{\n  "a": [1, {"b~/c": "x\\"y"}],\n  "d": {\n    "e": null\n  }\n}\n'


def test_every_pointer_starts_where_its_value_starts() -> None:
    source = SourceMap(TEXT)
    assert source.position("") == Position(line=1, column=1)
    assert source.position("/a") == Position(line=2, column=8)
    assert source.position("/a/1/b~0~1c") == Position(line=2, column=21)
    assert source.position("/d/e") == Position(line=4, column=10)
    offset = source.offset("/a/1/b~0~1c")
    assert offset is not None and json.JSONDecoder().raw_decode(TEXT, offset)[0] == 'x"y'


def test_a_missing_pointer_falls_back_to_its_parent() -> None:
    assert SourceMap(TEXT).position("/d/zzz/1") == SourceMap(TEXT).position("/d")


def test_empty_text_maps_to_the_start() -> None:
    assert SourceMap("").position("/x") == Position(line=1, column=1)
