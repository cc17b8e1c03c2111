"""Issue 20 #5 (NaN and infinity), #7 (output paths), #8 (unbounded waits), #15 (init).

NaN passes every range check (each comparison with it is false): `time_scale: .nan`
was a traceback in the clock, `max_ms: .nan` passed vacuously, `mutate --min-score nan`
switched the gate off. Output paths the OS refuses were OSError tracebacks (exit 1). A
spacing of 2**53 + 1 ms ran for ever, a FIFO as a spec blocked for ever, an upstream
dribbling one byte per 0.5 s stretched a 3 s probe to 55 s.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.cli_run import ROOT, assert_one_line_error, run_cli
from tests.hostile.helpers import HARDENED, SPECS

HAPPY = ROOT / "scenarios" / "happy-path.yaml"
ROOM_S = 15.0  # CI noise on top of a physical bound


def _scenario(tmp: Path, extra: str) -> Path:
    """A small scenario: its own lines, then ``extra`` (top-level keys or expectations)."""
    path = tmp / "s.yaml"
    head = "name: hostile\nexpect:\n  - outcome: transfer:agent-queue\n"
    path.write_text(head + extra, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("extra", "pointer"),
    [
        ("time_scale: .nan\n", "#/time_scale: nan is not a finite number"),
        ("time_scale: .inf\n", "#/time_scale: inf is not a finite number"),
        ("  - dead_air_max_ms: .nan\n", "#/expect/1/dead_air_max_ms: nan"),
        ("  - call_max_ms: .inf\n", "#/expect/1/call_max_ms: inf"),
        ("  - step: {id: http-customer-lookup, max_ms: .nan}\n", "#/expect/1/step/max_ms: nan"),
        (
            "faults:\n  - toxic: {type: latency, toxicity: .nan, attributes: {latency: 1}}\n"
            "    target: crm\n",
            "#/faults/0/toxic/toxicity: nan",
        ),
        ("callers: {count: 2, spacing_ms: 9007199254740993}\n", "integer past 2**53 - 1"),
        ("callers: {count: 2, spacing_ms: 3600001}\n", "#/callers/spacing_ms"),
    ],
    ids=["nan", "inf", "dead-air", "call-max", "step-max", "toxicity", "2**53", "hour"],
)
def test_non_finite_and_endless_numbers_in_a_scenario_are_exit_2(
    tmp_path: Path, extra: str, pointer: str
) -> None:
    scenario = _scenario(tmp_path, extra)
    result = run_cli("chaos", str(scenario), "--report-dir", str(tmp_path / "r"), timeout=60)
    assert_one_line_error(result, pointer)


def test_nan_in_a_json_flow_and_a_toml_config_is_exit_2(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    text = (HARDENED / "customer-integration.json").read_text(encoding="utf-8")
    (flows / "main.json").write_text(text.replace('"version": 3', '"version": NaN'))
    assert_one_line_error(run_cli("lint", str(flows)), "#/version: nan is not a finite number")
    (tmp_path / "ivr-harness.toml").write_text(f'flows = ["{HARDENED}"]\ndead-air-ms = inf\n')
    result = run_cli("lint", str(HARDENED), cwd=tmp_path)
    assert_one_line_error(result, "#/dead-air-ms: inf is not a finite number")


@pytest.mark.parametrize(
    "args",
    [
        ["mutate", str(HARDENED), "--min-score", "nan"],
        ["gate", str(HARDENED), *SPECS, "--max-time", "nan"],
        ["load", str(HAPPY), "--timeout", "nan"],
        ["load", str(HAPPY), "--rate", "inf"],
        ["toxiproxy", "serve", "--read-timeout", "nan"],
    ],
    ids=["min-score", "max-time", "timeout", "rate", "read-timeout"],
)
def test_nan_and_inf_options_are_usage_errors(args: list[str]) -> None:
    result = run_cli(*args, timeout=60)
    assert result.returncode == 2 and "is not a finite number" in result.stderr, result.stderr


def test_a_nan_scenario_is_a_collection_error_under_pytest(pytester: pytest.Pytester) -> None:
    folder = pytester.mkdir("scenarios")
    (folder / "nan.yaml").write_text(HAPPY.read_text() + "time_scale: .nan\n")
    pytester.makeini("[pytest]\nivr_scenarios = scenarios\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*time_scale: nan is not a finite number*"])


@pytest.mark.parametrize(
    "case", ["gate-proc", "gate-dangling-run-folder", "lint-output-proc", "base-url-port"]
)
def test_an_unusable_output_path_or_url_is_one_line_exit_2(tmp_path: Path, case: str) -> None:
    if case == "gate-proc":
        result = run_cli("gate", str(HARDENED), *SPECS, "--report-dir", "/proc/1")
    elif case == "gate-dangling-run-folder":
        (tmp_path / "reports").mkdir()
        (tmp_path / "reports" / "run-1").symlink_to(tmp_path / "nowhere")
        result = run_cli(
            "gate", str(HARDENED), *SPECS, "--report-dir", str(tmp_path / "reports"),
            "--run-id", "run-1",
        )  # fmt: skip
        assert not (tmp_path / "nowhere").exists()
    elif case == "lint-output-proc":
        result = run_cli("lint", str(ROOT / "contracts/flows/seed"), "--output", "/proc/self/mem")
    else:
        (tmp_path / "ivr-harness.toml").write_text(
            f'flows = ["{HARDENED}"]\nbattery = false\n[backends."api.crm-provider.com"]\n'
            'base_url = "http://127.0.0.1:99999/"\n'
        )
        result = run_cli("suite", str(HAPPY), "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
        assert "base_url: not a usable base URL" in result.stderr, result.stderr[-1500:]
    assert_one_line_error(result)


def test_a_reused_run_id_never_overwrites_a_report(tmp_path: Path) -> None:
    first = run_cli("gate", str(HARDENED), *SPECS, "--report-dir", str(tmp_path), "--run-id", "x")
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "x" / "results.json").read_text(encoding="utf-8")
    again = run_cli("gate", str(HARDENED), *SPECS, "--report-dir", str(tmp_path), "--run-id", "x")
    assert_one_line_error(again, "already holds the reports of an earlier run")
    assert (tmp_path / "x" / "results.json").read_text(encoding="utf-8") == before


def test_a_fifo_as_a_spec_is_exit_2_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "crm.yaml"
    os.mkfifo(fifo)
    started = time.monotonic()
    result = run_cli("gate", str(HARDENED), "--spec", f"api.crm-provider.com={fifo}", timeout=60)
    assert_one_line_error(result, "not a regular file")
    assert time.monotonic() - started < 60  # it blocked for ever before


@pytest.fixture
def dribbling_upstream() -> Iterator[str]:
    """A server that sends a response one byte every half second (55 s in all)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=dribble, args=(conn,), daemon=True).start()

    def dribble(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n" + b" " * 60:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    stop.set()
    thread.join(5)
    listener.close()


def test_the_upstream_probe_has_one_deadline_not_one_per_read(
    tmp_path: Path, dribbling_upstream: str
) -> None:
    (tmp_path / "ivr-harness.toml").write_text(
        f'flows = ["{HARDENED}"]\nbattery = false\n[backends."api.crm-provider.com"]\n'
        f'base_url = "{dribbling_upstream}"\n'
    )
    started = time.monotonic()
    result = run_cli("suite", str(HAPPY), "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert_one_line_error(result, "did not answer within 3 s")
    assert 3.0 <= elapsed <= 3.0 + ROOM_S  # 55 s before: the timeout restarted at each byte


def test_init_never_writes_through_a_dangling_symlink(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "flows").mkdir(parents=True)
    for flow in HARDENED.glob("*.json"):
        (project / "flows" / flow.name).write_text(flow.read_text(encoding="utf-8"))
    (project / "ivr-harness.toml").symlink_to(tmp_path / "elsewhere.toml")
    result = run_cli("init", str(project))
    assert_one_line_error(result, "ivr-harness.toml: already exists")
    assert not (tmp_path / "elsewhere.toml").exists()
    (project / "ivr-harness.toml").unlink()
    workflow = project / ".github" / "workflows" / "ivr-harness.yml"
    workflow.parent.mkdir(parents=True)
    workflow.symlink_to(tmp_path / "elsewhere.yml")
    result = run_cli("init", str(project))
    assert_one_line_error(result, "ivr-harness.yml: already exists")
    assert not (tmp_path / "elsewhere.yml").exists()
    assert not (project / "ivr-harness.toml").exists()  # nothing written: all or nothing


def test_a_deeply_nested_response_is_unreadable_not_a_crash() -> None:
    from harness.executor.outcome import parse_json
    from harness.flow.expr import MISSING

    assert parse_json(b"[" * 16_000 + b"]" * 16_000) is MISSING  # 32 KB: the body cap
    assert parse_json(b'{"a": [[1]]}') == {"a": [[1]]}
