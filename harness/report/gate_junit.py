"""The gate as JUnit: a testsuite per part, a testcase per check or finding."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harness.contract.model import CHECKS, ContractFinding
from harness.report.junit import Case, Suite, render_junit

if TYPE_CHECKING:
    from harness.contract.consumer import ConsumerReport
    from harness.contract.gate import GateResult, Part
    from harness.contract.provider import ProviderReport

__all__ = ["budget_suite", "consumer_suite", "gate_junit", "lint_suite", "provider_suite"]


def lint_suite(findings: Sequence[Any]) -> Suite:
    """One testcase per finding (errors fail, the rest pass with output); one if clean."""
    cases = [
        Case(
            name=f"{f.rule_id} {f.flow_id}/{f.step_id}",
            classname=f"lint.{f.flow_id}",
            failure=f"{f.message}\n{f.file}#{f.pointer} line {f.line}"
            if f.severity == "error"
            else None,
            output="" if f.severity == "error" else f"{f.severity}: {f.message}",
        )
        for f in findings
    ]
    return Suite(name="lint", cases=cases or [Case(name="no findings", classname="lint")])


def budget_suite(reports: Sequence[Any]) -> Suite:
    """One testcase per entry flow: its worst dead air against the budget."""
    cases = [
        Case(
            name=f"dead air {r.flow_id}",
            classname="budget",
            failure=f"worst dead air {r.worst_silence_ms} ms exceeds {r.budget_ms} ms"
            if r.over_budget
            else None,
            output=f"worst silence {r.worst_silence_ms} ms, worst total {r.worst_total_ms} ms",
        )
        for r in reports
    ]
    return Suite(name="budget", cases=cases)


def consumer_suite(report: ConsumerReport) -> Suite:
    """One testcase per (step, check); errors fail it, notes go to its output."""
    grouped: dict[tuple[str, str], list[ContractFinding]] = defaultdict(list)
    steps = sorted({(f.flow_id, f.step_id) for f in report.findings if f.step_id})
    for finding in report.findings:
        grouped[(finding.where, finding.check)].append(finding)
    cases: list[Case] = []
    for flow_id, step_id in steps or []:
        for check in CHECKS:
            if check == "unsupported":
                continue
            found = grouped.get((f"{flow_id}/{step_id}", check), [])
            cases.append(_consumer_case(f"{flow_id}/{step_id}", check, found))
    cases += [
        Case(name=line.split(" while ", 1)[0], classname="consumer.internal", error=line)
        for line in report.internal_errors
    ]
    spec_notes = [f for f in report.findings if not f.step_id]
    if spec_notes:
        cases.append(
            Case(
                name="specs: unsupported parts",
                classname="consumer.specs",
                output="\n".join(f.line() for f in spec_notes),
            )
        )
    return Suite(name="consumer", cases=cases or [Case(name="no HTTP steps", classname="consumer")])


def _consumer_case(where: str, check: str, found: list[ContractFinding]) -> Case:
    errors = [f.line() for f in found if f.severity == "error"]
    others = [f"{f.severity}: {f.line()}" for f in found if f.severity != "error"]
    return Case(
        name=f"{where} {check}",
        classname=f"consumer.{where.split('/')[0]}",
        failure="\n".join(errors) if errors else None,
        output="\n".join(others),
    )


def provider_suite(name: str, report: ProviderReport) -> Suite:
    """One testcase per operation (and the stateful phase), plus one for spec defects."""
    cases = [
        Case(
            name=op.label,
            classname=name.replace(" ", "."),
            failure="\n".join(op.failures) if op.failures else None,
            error="\n".join(op.errors) if op.errors and not op.failures else None,
            output=f"{op.calls} calls",
        )
        for op in report.operations
    ]
    defects = "\n".join(d.line() for d in report.spec_defects)
    cases.append(
        Case(
            name="spec examples match their schemas",
            classname=name.replace(" ", "."),
            failure=defects or None,
            output="\n".join(report.notes),
        )
    )
    return Suite(name=name, cases=cases)


def _part_suite(part: Part) -> Suite:
    if part.raw is None or (part.status == "error" and part.name != "consumer"):
        error = part.summary if part.status == "error" else None
        case = Case(name=part.name, classname=f"gate.{part.name}", error=error)
        return Suite(name=part.name, cases=[case], time_s=part.duration_s)
    if part.name == "lint":
        suite = lint_suite(part.raw)
    elif part.name == "budget":
        suite = budget_suite(part.raw)
    elif part.name == "consumer":
        suite = consumer_suite(part.raw)
    elif part.name in ("suppressions", "diff"):
        suite = _generic_suite(part)
    else:
        suite = provider_suite(part.name, part.raw)
    return Suite(name=suite.name, cases=suite.cases, time_s=part.duration_s)


def _generic_suite(part: Part) -> Suite:
    """One case per problem (expired suppressions, behaviour changes); suppressed findings
    are skipped cases, so a JUnit viewer shows them without failing on them."""
    cases = [
        Case(name=line.split(":", 1)[0], classname=f"gate.{part.name}", failure=line)
        for line in part.problems
    ]
    cases += [
        Case(
            name=f"{s.finding.flow_id}/{s.finding.step_id}",
            classname=f"gate.{part.name}",
            skipped=f"suppressed: {s.by.reason}",
        )
        for s in (part.raw if part.name == "suppressions" else [])
    ]
    if not cases:
        cases = [Case(name=part.summary, classname=f"gate.{part.name}")]
    return Suite(name=part.name, cases=cases)


def gate_junit(result: GateResult) -> str:
    """junit.xml text for a gate run."""
    suites = [_part_suite(p) for p in result.parts]
    if result.incomplete:  # an interrupted gate is an error, with what finished beside it
        case = Case(name="gate", classname="gate.interrupted", error=result.incomplete)
        suites.append(Suite(name="interrupted", cases=[case]))
    return render_junit(suites, name=f"ivr-harness gate {result.run_id}", time_s=result.duration_s)
