"""Tests of the tests: each mutation an audit once saw survive now turns its test red.

Each case copies the checkout (no `../shared` beside the copy, as in a bare
checkout: schema validation skips there, the schema-free checks must not), makes one
edit to the harness's code, and runs the named tests in a fresh process. They must
fail. A copy costs a second and each run a few, so this is marked `slow`: `make
test-all` and CI run it. `make bench` measures the suite's mutation score at large
(bench/bench_test_mutation.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.code_mutants import ROOT, Edit, apply, copy_checkout, run_tests

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WIRE = "harness/executor/wire.py"
URLS = "tests/properties/test_urls_props.py"
ON_THE_WIRE = [
    f"{URLS}::test_an_unsendable_url_is_an_outcome_on_the_real_wire",
    f"{URLS}::test_a_url_past_the_platforms_length_limit_is_an_outcome_on_the_real_wire",
    "tests/executor/test_wire_aiohttp.py",
]

# (id, the edit, the tests that must go red)
NAMED: list[tuple[str, Edit, list[str]]] = [
    (
        "a-known-defect-fails-the-run",
        Edit(
            file="harness/scenario/verdict.py", old="    if failed - known:", new="    if failed:"
        ),
        ["tests/report/test_junit.py::test_real_seed_run_is_an_expected_failure"],
    ),
    (
        "an-unsendable-url-is-econnreset",
        Edit(
            file=WIRE,
            old='raise WireError("connection_error", "EINVALIDURL", f"control',
            new='raise WireError("connection_error", "ECONNRESET", f"control',
        ),
        ON_THE_WIRE[:1] + ON_THE_WIRE[2:],
    ),
    (
        "a-long-url-is-econnreset",
        Edit(
            file=WIRE,
            old='raise WireError("connection_error", "EINVALIDURL", detail)',
            new='raise WireError("connection_error", "ECONNRESET", detail)',
        ),
        ON_THE_WIRE[1:],
    ),
    (
        "no-einvalidurl-check-on-the-wire",
        Edit(
            file=WIRE,
            old="    _refuse_unsendable(url, max_url_chars)\n",
            new="",
        ),
        ON_THE_WIRE,
    ),
    (
        "an-unsendable-url-is-retried",
        Edit(
            file="harness/executor/http_step.py",
            old='attempt.code in ("insufficient_scope", _INVALID_URL)',
            new='attempt.code in ("insufficient_scope",)',
        ),
        ["tests/executor/test_wire_aiohttp.py"],
    ),
    (
        "sarif-suppressions-renamed",
        Edit(
            file="harness/report/sarif.py",
            old='result["suppressions"] = [',
            new='result["suppression"] = [',
        ),
        ["tests/contract/test_suppressions.py::test_sarif_carries_suppressed_results"],
    ),
    (
        "sarif-rule-index-off-by-one",
        Edit(
            file="harness/report/sarif.py",
            old="results = [_result(f, ids.index(f.rule_id), base) for f in findings]",
            new="results = [_result(f, ids.index(f.rule_id) + 1, base) for f in findings]",
        ),
        [
            "tests/report/test_sarif.py"
            "::test_sarif_has_a_result_per_finding_pointing_at_its_file_and_rule"
        ],
    ),
    # The timing tests hold exact lower bounds; a mutant must fall short by more than a
    # loaded machine's scheduling delay (tens of ms at a load of 14 on 2 cores) to be seen.
    (
        "a-backend-delay-half-as-long",
        Edit(
            file="harness/backends/middleware.py",
            old="await self.clock.sleep(delay.ms / 1000)",
            new="await self.clock.sleep(delay.ms / 1000 * 0.5)",
        ),
        ["tests/backends/test_backends_faults.py::test_delay"],
    ),
    (
        "a-dribble-twice-as-fast",
        Edit(
            file="harness/backends/middleware.py",
            old="await self._clock.sleep(spec.interval_ms / 1000)",
            new="await self._clock.sleep(spec.interval_ms / 1000 * 0.5)",
        ),
        ["tests/backends/test_backends_faults.py::test_dribble_paces_the_body"],
    ),
]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the copy is made from `git ls-files`")
    return copy_checkout(tmp_path_factory.mktemp("pristine") / "checkout")


def test_the_named_tests_pass_on_the_unmutated_copy(pristine: Path) -> None:
    # Otherwise a red run below could be the copy's fault, not the mutant's.
    tests = sorted({t for _, _, named in NAMED for t in named})
    outcome = run_tests(pristine, tests)
    assert not outcome.killed, outcome.tail


@pytest.mark.parametrize(
    ("edit", "tests"), [(e, t) for _, e, t in NAMED], ids=[n for n, *_ in NAMED]
)
def test_the_mutant_turns_its_tests_red(
    pristine: Path, tmp_path: Path, edit: Edit, tests: list[str]
) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(pristine, checkout, symlinks=True)
    apply(checkout, edit)
    outcome = run_tests(checkout, tests)
    assert outcome.killed, f"{edit.file}: the mutant survived {tests}\n{outcome.tail}"
    assert outcome.returncode == 1, outcome.tail  # tests failed; not a crash or a timeout
