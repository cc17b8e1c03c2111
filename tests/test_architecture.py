"""ARCHITECTURE.md holds: imports run one way, down the layers, never up.

Every `import` in `harness/` (module level, inside functions and under TYPE_CHECKING
alike) is read with `ast`; a module may import its own layer or any layer below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "harness"

# Lowest first, as in ARCHITECTURE.md. `faults` and `backends` are one layer (the
# stand-ins), as are `scenario`, `contract` and `platform` (the jobs).
LAYERS = [
    {
        "errors",
        "clock",
        "events",
        "inputs",
        "openapi_file",
        "bundled",
        "asgi_server",
        "loopback",
        "__init__",
    },
    {"flow", "config"},
    {"faults", "backends"},
    {"executor"},
    {"scenario", "contract", "platform"},
    {"report"},
    {"cli", "pytest_plugin", "__main__", "testing"},
]


def _layer(top: str) -> int:
    for index, members in enumerate(LAYERS):
        if top in members:
            return index
    raise AssertionError(f"harness/{top} is in no layer of tests/test_architecture.py")


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names)
    return [m for m in found if m == "harness" or m.startswith("harness.")]


def _top(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return parts[0]


def test_no_import_runs_upward() -> None:
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        here = _top(path)
        for module in _imports(path):
            parts = module.split(".")
            target = parts[1] if len(parts) > 1 else "__init__"
            if target == here:
                continue
            if _layer(target) > _layer(here):
                upward.append(f"{path.relative_to(ROOT.parent)} imports {module}")
    assert upward == []


def test_the_flow_layer_uses_the_expression_engine_through_its_public_surface() -> None:
    private = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.is_relative_to(ROOT / "flow" / "expr"):
            continue
        private += [
            f"{path.relative_to(ROOT.parent)} imports {m}"
            for m in _imports(path)
            if m.startswith("harness.flow.expr.")
        ]
    assert private == []
