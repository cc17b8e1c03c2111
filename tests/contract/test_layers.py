"""The contract gate runs nothing: it imports no executor, stand-in or scenario code."""

from __future__ import annotations

from tests.test_architecture import ROOT, _imports

RUNTIME = ("harness.executor", "harness.faults", "harness.backends", "harness.scenario")


def test_the_contract_package_imports_no_runtime_layer() -> None:
    found = [
        f"{path.relative_to(ROOT.parent)} imports {module}"
        for path in sorted((ROOT / "contract").rglob("*.py"))
        for module in _imports(path)
        if module.startswith(RUNTIME)
    ]
    assert found == []
