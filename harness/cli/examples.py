"""`examples`: copy the bundled example flows, contracts and scenarios out of the package."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from harness.errors import ConfigError

__all__ = ["examples"]


@click.command()
@click.argument("dest", type=click.Path(path_type=Path, file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite files that already exist in DEST.")
def examples(dest: Path, force: bool) -> None:
    """Copy the bundled demo into DEST: flows/, openapi/, schemas/ and scenarios/.

    The copy is yours to edit: `ivr-harness suite DEST/scenarios --flows DEST/flows/hardened`.
    """
    from harness.bundled import CONTRACTS, SCENARIOS

    sources = {
        "flows": CONTRACTS / "flows",
        "openapi": CONTRACTS / "openapi",
        "schemas": CONTRACTS / "schemas",
        "scenarios": SCENARIOS,
    }
    if dest.exists() and not dest.is_dir():
        raise ConfigError("is not a folder", file=dest, hint="name a new or existing folder")
    clashes = [dest / name for name in sources if (dest / name).exists()]
    if clashes and not force:
        raise ConfigError(
            "already exists", file=clashes[0], hint="choose another folder or add --force"
        )
    for name, source in sources.items():
        shutil.copytree(source, dest / name, dirs_exist_ok=True)
    click.echo(f"copied the bundled examples to {dest}/ ({', '.join(sources)})")
