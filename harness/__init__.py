"""ivr-harness: contract-testing and chaos harness for CXone Studio IVR integrations.

The public API is what ``__all__`` lists. Names are imported lazily, so
``import harness`` stays cheap for the CLI and the pytest plugin.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # flow documents, expressions, static checks
    "Flow": "harness.flow.model",
    "FlowSet": "harness.flow.model",
    "Step": "harness.flow.model",
    "load_flow": "harness.flow.loader",
    "load_flow_set": "harness.flow.loader",
    "Scope": "harness.flow.expr",
    "evaluate": "harness.flow.expr",
    "evaluate_condition": "harness.flow.expr",
    "render": "harness.flow.expr.templates",
    "lint_flow_set": "harness.flow.lint",
    "flow_budget": "harness.flow.budget",
    "step_budget": "harness.flow.budget",
    # the reference executor and flow runner
    "CXONE": "harness.flow.profile",
    "PlatformProfile": "harness.flow.profile",
    "ExecutorContext": "harness.executor.context",
    "HttpStepExecutor": "harness.executor.http_step",
    "StepResult": "harness.executor.outcome",
    "FlowRunner": "harness.executor.runner",
    "Caller": "harness.executor.timeline",
    "CallResult": "harness.executor.timeline",
    "DnsFault": "harness.executor.resolver",
    "FaultyResolver": "harness.executor.resolver",
    # clocks and events
    "Clock": "harness.clock",
    "RealClock": "harness.clock",
    "ScaledClock": "harness.clock",
    "VirtualClock": "harness.clock",
    "Event": "harness.events",
    "EventLog": "harness.events",
    # faults and stand-ins
    "EmbeddedToxiproxy": "harness.faults.toxiproxy",
    "ToxiproxyControl": "harness.faults.client",
    "ReferenceBackends": "harness.backends.server",
    # scenarios and reports
    "Scenario": "harness.scenario.model",
    "load_scenario": "harness.scenario.model",
    "load_scenarios": "harness.scenario.model",
    "run_scenario": "harness.scenario.runner",
    "run_suite": "harness.scenario.runner",
    "write_reports": "harness.report.writer",
    # errors
    "HarnessError": "harness.errors",
    "ConfigError": "harness.errors",
    "ContractFailure": "harness.errors",
    "UnreachableError": "harness.errors",
    "UnsafeTargetError": "harness.errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
