"""The public API is exactly `harness.__all__`, and every name in it resolves."""

from __future__ import annotations

import harness


def test_every_exported_name_resolves_to_a_documented_object() -> None:
    for name in harness.__all__:
        value = getattr(harness, name)
        if name != "__version__" and callable(value):
            assert value.__doc__, f"{name} has no docstring"


def test_exports_are_public_names_and_sorted() -> None:
    assert harness.__all__ == sorted(harness.__all__)
    assert all(not n.startswith("_") or n == "__version__" for n in harness.__all__)


def test_importing_the_package_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, harness; print('uvicorn' in sys.modules, 'starlette' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
