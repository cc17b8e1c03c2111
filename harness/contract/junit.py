"""A small JUnit XML writer: one ``<testsuite>`` per part, one ``<testcase>`` per check."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Case", "Suite", "write_junit"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One check: passed, failed (the system under test), errored (the harness) or skipped."""

    name: str
    classname: str
    failure: str | None = None
    error: str | None = None
    skipped: str | None = None
    output: str = ""
    time_s: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Suite:
    name: str
    cases: Sequence[Case] = field(default_factory=tuple)
    time_s: float = 0.0


def to_xml(suites: Sequence[Suite]) -> ET.Element:
    root = ET.Element("testsuites")
    for suite in suites:
        node = ET.SubElement(
            root,
            "testsuite",
            name=suite.name,
            tests=str(len(suite.cases)),
            failures=str(sum(c.failure is not None for c in suite.cases)),
            errors=str(sum(c.error is not None for c in suite.cases)),
            skipped=str(sum(c.skipped is not None for c in suite.cases)),
            time=f"{suite.time_s:.3f}",
        )
        for case in suite.cases:
            _case(node, case)
    return root


def _case(parent: ET.Element, case: Case) -> None:
    node = ET.SubElement(
        parent, "testcase", name=case.name, classname=case.classname, time=f"{case.time_s:.3f}"
    )
    for tag, text in (("failure", case.failure), ("error", case.error)):
        if text is not None:
            child = ET.SubElement(node, tag, message=_clean(text.splitlines()[0] if text else ""))
            child.text = _clean(text)
    if case.skipped is not None:
        ET.SubElement(node, "skipped", message=_clean(case.skipped))
    if case.output:
        ET.SubElement(node, "system-out").text = _clean(case.output)


def _clean(text: str) -> str:
    # XML 1.0 cannot carry most control characters; failing examples often contain them.
    return "".join(c if c in "\t\n\r" or ord(c) >= 0x20 else f"\\x{ord(c):02x}" for c in text)


def write_junit(path: Path, suites: Sequence[Suite]) -> None:
    """Write ``suites`` as a JUnit XML file (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(to_xml(suites))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
