"""Worst-case time budgets of steps and call paths, split into audio and dead air.

``step_budget`` is an exact upper bound of what the reference executor
(:mod:`harness.executor.http_step`) can spend on one HTTPRequest step, term by term:

* ``attempts_ms`` = attempts x timeout. Every attempt runs under one deadline of
  ``timeout`` ms (DNS to last byte); a response or error may arrive just before it.
* ``backoff_ms`` = sum over retries n = 1..maxRetries of ``max(delay_ms(n), ra)``, where
  ``delay_ms`` is :meth:`RetryPolicy.delay_ms` (full jitter draws in ``[0, delay]``, so the
  maximum counts) and ``ra`` is ``maxDelayMs`` when 429 or 503 is retried: the executor
  sleeps a ``Retry-After`` instead of the backoff when it is at most ``maxDelayMs``.
* ``token_ms`` (oauth2 only) = (attempts + 1) x timeout. An inline token fetch (cold cache)
  runs under its own deadline of ``timeout`` before an attempt; a token whose
  ``expires_in`` is shorter than an attempt is fetched again before the next one, and a
  401 ``invalid_token``/``token_expired`` forces one more fetch.
* ``auth_retry_ms`` (oauth2 only) = timeout: the one extra attempt after that 401.

Excluded, and said so in reports: queueing for one of the platform's concurrent-request
slots (``max_concurrent_requests``), which depends on load, not on the flow.

Other steps: ``Play`` is ``durationMs`` of audio (1500 when absent, as the runner
plays it); ``Wait`` is ``maxWaitMs``, audio when it plays progress prompts, else dead air;
``CollectDigits`` is its prompt (audio) and caller input, which ends a silence;
``SubFlow`` is the worst path through the child; everything else takes no time.
A path runs from a flow's entry to a terminal, a ``Return``, a dead end, or a step it
already visited; a cycle is followed once more around before it is cut, so a silence the
loop repeats counts twice (as ``diff`` counts it: a silent self-loop is not "within
budget" on one pass); sub-flows are inlined, so a silence that starts in the parent
continues through the child.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.flow.http_config import parse_http_config
from harness.flow.model import Flow, FlowSet, Step
from harness.flow.profile import CXONE, PlatformProfile

__all__ = [
    "DEFAULT_PROMPT_MS",
    "MAX_PATHS",
    "BudgetReport",
    "PathBudget",
    "PathItem",
    "StepBudget",
    "flow_budget",
    "format_budget_text",
    "step_budget",
    "terminal_name",
]

DEFAULT_PROMPT_MS = 1500
MAX_PATHS = 5000
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_CALL_ENDS = frozenset({"Transfer", "Voicemail", "Hangup"})


@dataclass(frozen=True, slots=True, kw_only=True)
class StepBudget:
    """Worst-case time of one step; ``audio_ms + silent_ms == worst_ms``."""

    flow_id: str
    step_id: str
    type: str
    worst_ms: int
    audio_ms: int = 0
    silent_ms: int = 0
    caller_input: bool = False
    attempts_ms: int = 0
    backoff_ms: int = 0
    token_ms: int = 0
    auth_retry_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "step_id": self.step_id,
            "type": self.type,
            "worst_ms": self.worst_ms,
            "audio_ms": self.audio_ms,
            "silent_ms": self.silent_ms,
            "caller_input": self.caller_input,
            "attempts_ms": self.attempts_ms,
            "backoff_ms": self.backoff_ms,
            "token_ms": self.token_ms,
            "auth_retry_ms": self.auth_retry_ms,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PathItem:
    """One step as visited on a path (sub-flow steps inlined)."""

    flow_id: str
    step_id: str
    audio_ms: int
    silent_ms: int
    caller_input: bool = False

    @property
    def label(self) -> str:
        return f"{self.flow_id}/{self.step_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PathBudget:
    """One path from the entry to where the call (or flow) stops."""

    items: tuple[PathItem, ...]
    end: str  # terminal | return | dead_end | cycle
    audio_ms: int
    silent_ms: int
    longest_silence_ms: int
    longest_silence: tuple[PathItem, ...]
    budget_ms: int
    # Where the path ends, as a scenario's `outcome` names it: transfer:QUEUE, hangup,
    # voicemail; else return, "dead end at STEP" or "cycle back to STEP".
    terminal: str = ""

    @property
    def total_ms(self) -> int:
        return self.audio_ms + self.silent_ms

    @property
    def over_budget(self) -> bool:
        return self.longest_silence_ms > self.budget_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": [i.label for i in self.items],
            "end": self.end,
            "terminal": self.terminal,
            "total_ms": self.total_ms,
            "audio_ms": self.audio_ms,
            "silent_ms": self.silent_ms,
            "longest_silence_ms": self.longest_silence_ms,
            "longest_silence_steps": [i.label for i in self.longest_silence],
            "over_budget": self.over_budget,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetReport:
    """Every step and every path of one flow against a dead-air budget."""

    flow_id: str
    budget_ms: int
    steps: tuple[StepBudget, ...]
    paths: tuple[PathBudget, ...]
    truncated: bool = False
    excluded: tuple[str, ...] = field(default=("queueing for a concurrent-request slot",))

    @property
    def worst_silence_ms(self) -> int:
        return max((p.longest_silence_ms for p in self.paths), default=0)

    @property
    def worst_total_ms(self) -> int:
        return max((p.total_ms for p in self.paths), default=0)

    @property
    def over_budget(self) -> bool:
        return any(p.over_budget for p in self.paths)

    def to_json(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "budget_ms": self.budget_ms,
            "worst_silence_ms": self.worst_silence_ms,
            "worst_total_ms": self.worst_total_ms,
            "over_budget": self.over_budget,
            "truncated": self.truncated,
            "excluded": list(self.excluded),
            "steps": [s.to_json() for s in self.steps],
            "paths": [p.to_json() for p in self.paths],
        }


def step_budget(
    step: Step, flow: Flow, profile: PlatformProfile = CXONE, flows: FlowSet | None = None
) -> StepBudget:
    """The worst-case time of ``step`` (see the module docstring for every term)."""
    cfg = step.config
    if step.type == "HTTPRequest":
        return _http_budget(step, flow, profile)
    audio = silent = 0
    caller_input = False
    if step.type == "Play":
        audio = int(cfg.get("durationMs", DEFAULT_PROMPT_MS))
    elif step.type == "Wait":
        # Progress prompts keep the caller company (the runner marks the wait as audio).
        if cfg.get("progressPromptEveryMs"):
            audio = int(cfg.get("maxWaitMs", 0))
        else:
            silent = int(cfg.get("maxWaitMs", 0))
    elif step.type == "CollectDigits":
        audio, caller_input = (DEFAULT_PROMPT_MS if cfg.get("prompt") else 0), True
    elif step.type == "SubFlow" and flows is not None:
        audio, silent = _child_worst(flows, flow, step, profile)
    return StepBudget(
        flow_id=flow.id,
        step_id=step.id,
        type=step.type,
        worst_ms=audio + silent,
        audio_ms=audio,
        silent_ms=silent,
        caller_input=caller_input,
    )


def _child_worst(
    flows: FlowSet, flow: Flow, step: Step, profile: PlatformProfile
) -> tuple[int, int]:
    child = flows.subflow_target(flow, step)
    if child is None:
        return 0, 0
    paths, _ = _enumerate(flows, child, profile)
    totals = [(_sum(items, "audio_ms"), _sum(items, "silent_ms")) for items, _, _ in paths]
    return max(totals, key=sum, default=(0, 0))


def _sum(items: tuple[PathItem, ...], name: str) -> int:
    return sum(int(getattr(i, name)) for i in items)


def _http_budget(step: Step, flow: Flow, profile: PlatformProfile) -> StepBudget:
    cfg = parse_http_config(step, profile, flow)
    timeout, retry = cfg.timeout_ms, cfg.retry
    retry_after = retry.max_delay_ms if retry.retry_on_status & _RETRY_AFTER_STATUSES else 0
    backoff = sum(
        max(int(retry.delay_ms(n) + 0.5), retry_after) for n in range(1, retry.max_retries + 1)
    )
    oauth = bool(cfg.auth) and (cfg.auth or {}).get("type") == "oauth2"
    token = (cfg.attempts + 1) * timeout if oauth else 0
    auth_retry = timeout if oauth else 0
    attempts = cfg.attempts * timeout
    worst = attempts + backoff + token + auth_retry
    return StepBudget(
        flow_id=flow.id,
        step_id=step.id,
        type=step.type,
        worst_ms=worst,
        silent_ms=worst,
        attempts_ms=attempts,
        backoff_ms=backoff,
        token_ms=token,
        auth_retry_ms=auth_retry,
    )


def flow_budget(
    flows: FlowSet,
    flow_id: str,
    profile: PlatformProfile = CXONE,
    dead_air_budget_ms: int = 8000,
) -> BudgetReport:
    """Step budgets of ``flow_id`` and every path from its entry, against the budget."""
    flow = flows.get(flow_id)
    if flow is None:
        raise KeyError(flow_id)
    steps = tuple(step_budget(s, flow, profile, flows) for s in flow.steps)
    raw, truncated = _enumerate(flows, flow, profile)
    paths = tuple(_path_budget(items, end, dead_air_budget_ms, at) for items, end, at in raw)
    return BudgetReport(
        flow_id=flow_id,
        budget_ms=dead_air_budget_ms,
        steps=steps,
        paths=paths,
        truncated=truncated,
    )


def _path_budget(items: tuple[PathItem, ...], end: str, budget: int, terminal: str) -> PathBudget:
    longest: tuple[PathItem, ...] = ()
    run: list[PathItem] = []
    for item in items:
        if item.caller_input or item.audio_ms:
            run = []
            continue
        if item.silent_ms:
            run.append(item)
            if sum(i.silent_ms for i in run) > sum(i.silent_ms for i in longest):
                longest = tuple(run)
    return PathBudget(
        items=items,
        end=end,
        audio_ms=sum(i.audio_ms for i in items),
        silent_ms=sum(i.silent_ms for i in items),
        longest_silence_ms=sum(i.silent_ms for i in longest),
        longest_silence=longest,
        budget_ms=budget,
        terminal=terminal,
    )


_Raw = tuple[tuple[PathItem, ...], str, str]  # items, end kind, terminal name


def _enumerate(flows: FlowSet, flow: Flow, profile: PlatformProfile) -> tuple[list[_Raw], bool]:
    found: list[_Raw] = []
    for path in _walk(flows, flow, flow.entry_step_id, (), frozenset(), profile, 0):
        found.append(path)
        if len(found) >= MAX_PATHS:
            return found, True
    return found, False


def _walk(
    flows: FlowSet,
    flow: Flow,
    step_id: str | None,
    prefix: tuple[PathItem, ...],
    seen: frozenset[str],
    profile: PlatformProfile,
    depth: int,
) -> Iterator[_Raw]:
    step = flow.step(step_id)
    if step is None:
        last = prefix[-1].label if prefix else flow.id
        yield prefix, "dead_end", f"dead end after {last}"
        return
    if step.id in seen:
        again = _once_more(prefix, flow.id, step.id)
        yield prefix + again, "cycle", f"cycle back to {flow.id}/{step.id}"
        return
    seen = seen | {step.id}
    if step.type == "SubFlow":
        yield from _walk_subflow(flows, flow, step, prefix, seen, profile, depth)
        return
    sb = step_budget(step, flow, profile)
    here = prefix + (_item(sb),)
    if step.type in _CALL_ENDS:
        yield here, "terminal", terminal_name(step)
    elif step.type == "Return":
        yield here, "return", f"return from {flow.id}"
    else:
        for target in _successors(step):
            yield from _walk(flows, flow, target, here, seen, profile, depth)


def _once_more(prefix: tuple[PathItem, ...], flow_id: str, step_id: str) -> tuple[PathItem, ...]:
    """The loop's steps again: from where ``step_id`` was first visited to the end."""
    for index, item in enumerate(prefix):
        if (item.flow_id, item.step_id) == (flow_id, step_id):
            return prefix[index:]
    return ()


def _walk_subflow(
    flows: FlowSet,
    flow: Flow,
    step: Step,
    prefix: tuple[PathItem, ...],
    seen: frozenset[str],
    profile: PlatformProfile,
    depth: int,
) -> Iterator[_Raw]:
    child = flows.subflow_target(flow, step)
    marker = PathItem(flow_id=flow.id, step_id=step.id, audio_ms=0, silent_ms=0)
    if child is None or depth > 8:
        yield from _walk(flows, flow, step.next_step_id, prefix + (marker,), seen, profile, depth)
        return
    for items, end, at in _walk(
        flows, child, child.entry_step_id, prefix + (marker,), frozenset(), profile, depth + 1
    ):
        if end == "terminal":
            yield items, end, at
        else:  # a Return, or a child error that comes back as subflow_error
            yield from _walk(flows, flow, step.next_step_id, items, seen, profile, depth)


def terminal_name(step: Step) -> str:
    """A call-ending step as the runner names the call's outcome: ``transfer:QUEUE``
    (the queue as written, a template included), ``voicemail`` or ``hangup``."""
    if step.type == "Transfer":
        return f"transfer:{step.config.get('queue', '')}"
    return step.type.lower()


def _item(sb: StepBudget) -> PathItem:
    return PathItem(
        flow_id=sb.flow_id,
        step_id=sb.step_id,
        audio_ms=sb.audio_ms,
        silent_ms=sb.silent_ms,
        caller_input=sb.caller_input,
    )


def _successors(step: Step) -> list[str | None]:
    cfg = step.config
    targets: list[str | None] = []
    if step.type == "Condition":
        targets = [str(b.get("nextStepId")) for b in cfg.get("conditions", [])]
        targets.append(cfg.get("defaultStepId"))  # None: no branch taken is a dead end
    else:
        targets.append(step.next_step_id)
        targets.extend(cfg[k] for k in ("onTimeoutStepId", "onErrorStepId") if k in cfg)
    unique: list[str | None] = []
    for target in targets:
        if target not in unique:
            unique.append(target)
    return unique


def format_budget_text(reports: list[BudgetReport]) -> str:
    """A plain-text table per flow: each timed step, then each path's silence."""
    lines: list[str] = []
    for report in reports:
        lines.append(f"flow {report.flow_id}  (dead-air budget {report.budget_ms} ms)")
        lines.append(f"  {'step':<28} {'type':<14} {'worst':>8} {'audio':>8} {'silent':>8}")
        for sb in report.steps:
            if sb.worst_ms:
                lines.append(
                    f"  {sb.step_id:<28} {sb.type:<14} {sb.worst_ms:>8} {sb.audio_ms:>8} "
                    f"{sb.silent_ms:>8}"
                )
        for index, path in enumerate(report.paths, 1):
            mark = "OVER" if path.over_budget else "ok"
            lines.append(
                f"  path {index:>3} total {path.total_ms:>7} ms, silent {path.silent_ms:>7} ms, "
                f"longest silence {path.longest_silence_ms:>7} ms  {mark:<4}  -> {path.terminal}"
                + (f" ({path.items[-1].label})" if path.end == "terminal" and path.items else "")
            )
        verdict = "OVER BUDGET" if report.over_budget else "within budget"
        lines.append(
            f"  worst silence {report.worst_silence_ms} ms: {verdict}"
            + (" (paths truncated)" if report.truncated else "")
        )
    return "\n".join(lines)
