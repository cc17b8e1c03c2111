"""The command line as a user meets it: real processes, real servers, exit codes.

0 all held, 1 a check failed, 2 the harness could not run (one line, no traceback).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
HARDENED = ROOT / "contracts" / "flows" / "hardened"
CLI = [sys.executable, "-m", "harness.cli"]


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160", **(env or {})}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=cwd or ROOT, env=full_env, timeout=120
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture(scope="module")
def backends() -> Iterator[dict[str, str]]:
    """`ivr-harness backend serve` in its own process; host -> base URL."""
    proc = subprocess.Popen(
        [
            *CLI,
            "backend",
            "serve",
            "--port-base",
            "0",
            "--api-key",
            "cli-key",
            "--client",
            "ivr-client:cli-secret",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    hosts: dict[str, str] = {}
    assert proc.stdout is not None
    while len(hosts) < 3:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "backend serve exited"
        parts = line.split()
        if len(parts) >= 3 and parts[1].startswith("http://"):
            hosts[parts[2].strip("()")] = parts[1]
    yield hosts
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=10)


def call_hardened(
    backends: dict[str, str], dtmf: str, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`ivr-harness call` on the hardened flows, routed to the backends of the fixture."""
    routes = [f"--base-url={host}={url}" for host, url in backends.items()]
    flow = ["--flow", "customer-lookup-ivr", "--dtmf", dtmf, "--skip-audio"]
    return run_cli("call", str(HARDENED), *flow, *extra, *routes, env=env)


def test_call_prints_a_readable_timeline(backends: dict[str, str]) -> None:
    secrets = ["--set", "oauth_client_secret=cli-secret", "--set", "api_key_variable=cli-key"]
    result = call_hardened(backends, "4155552671#", *secrets, "--expect", "transfer:agent-queue")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in ("http-customer-lookup", "play-case-number", "outcome transfer:agent-queue"):
        assert text in out
    assert "dead air" in out
    assert "cli-secret" not in out and "\x1b[" not in out  # no secret, NO_COLOR honoured


def test_call_json_never_carries_a_secret(backends: dict[str, str]) -> None:
    secrets = ["--set-env", "oauth_client_secret=CRM_SECRET", "--set", "api_key_variable=cli-key"]
    result = call_hardened(
        backends, "4155552671#", *secrets, "--json", env={"CRM_SECRET": "cli-secret"}
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["call"]["outcome"] == "transfer:agent-queue"
    assert "cli-secret" not in result.stdout and "cli-key" not in result.stdout


def test_call_expect_mismatch_exits_1(backends: dict[str, str]) -> None:
    result = call_hardened(backends, "1#", "--expect", "voicemail")
    assert result.returncode == 1
    assert "expected the call to end in voicemail" in result.stderr


def test_malformed_flow_json_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "flows"
    bad.mkdir()
    (bad / "main.json").write_text('{"id": "main", "name": "m",\n "steps": [}')
    result = run_cli("call", str(bad), "--flow", "main")
    assert_one_line_error(result, "main.json", "not valid JSON at line 2")


def test_flow_schema_error_names_pointer_and_fix(tmp_path: Path) -> None:
    doc = json.loads((HARDENED / "ticket-submit.json").read_text())
    doc["steps"][0]["configuration"]["retryPolicy"]["maxRetrys"] = 2
    (tmp_path / "t.json").write_text(json.dumps(doc))
    result = run_cli("call", str(tmp_path), "--flow", "ticket-submit")
    assert_one_line_error(
        result,
        "t.json#/steps/0/configuration/retryPolicy/maxRetrys",
        "unknown key 'maxRetrys'",
        "did you mean 'maxRetries'?",
    )


@pytest.mark.parametrize(
    "text,needles",
    [
        (
            "name: x\ncalers: {count: 1}\nexpect: [{outcome: hangup}]\n",
            ["#", "unknown key 'calers'", "did you mean 'callers'?"],
        ),
        (
            "name: x\ncallers: {count: many}\nexpect: [{outcome: hangup}]\n",
            ["#/callers/count", "expected integer"],
        ),
        (
            "name: x\nentry: no-such-flow\nexpect: [{outcome: hangup}]\n",
            ["#/entry", "no-such-flow"],
        ),
        ("name: x\nexpect: [{outcome: hangup}\n", ["not valid YAML"]),
    ],
    ids=["typo", "wrong-type", "unknown-flow", "bad-yaml"],
)
def test_bad_scenario_is_one_line_and_exit_2(tmp_path: Path, text: str, needles: list[str]) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(text)
    result = run_cli("suite", str(scenario), "--report-dir", str(tmp_path / "reports"))
    assert_one_line_error(result, "bad.yaml", *needles)
    assert not (tmp_path / "reports").exists()  # nothing left behind


def test_suite_writes_every_report_and_exits_by_verdict(tmp_path: Path) -> None:
    passing = ROOT / "scenarios" / "empty-array.yaml"
    result = run_cli(
        "suite",
        str(passing),
        "--report-dir",
        str(tmp_path),
        env={"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [run_dir] = list(tmp_path.glob("2*"))
    for name in ("events.jsonl", "results.json", "junit.xml", "report.html"):
        assert (run_dir / name).stat().st_size > 0
    assert (
        "expected findings" in result.stdout
        and "empty array played the error tone" in result.stdout
    )
    assert "empty-array" in (tmp_path / "summary.md").read_text()

    failing = tmp_path / "scenarios" / "wrong.yaml"
    failing.parent.mkdir()
    failing.write_text(
        "name: wrong\nflows: [hardened]\nexpect:\n"
        "  - outcome: voicemail\n    title: callers reach voicemail\n"
    )
    result = run_cli("suite", str(failing), "--report-dir", str(tmp_path))
    assert result.returncode == 1
    assert "FAIL wrong[hardened]: callers reach voicemail" in result.stdout


def test_chaos_shows_attempts_waits_and_breaker(tmp_path: Path) -> None:
    result = run_cli(
        "chaos", str(ROOT / "scenarios" / "503-503-200.yaml"), "--report-dir", str(tmp_path)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "http-customer-lookup: http_error x2" in result.stdout
    assert "waits" in result.stdout and "held" in result.stdout


def test_chaos_runs_the_flow_set_the_scenario_names(tmp_path: Path) -> None:
    # The happy path pinned to the seed flows: chaos runs the seed, not the first set.
    text = (ROOT / "scenarios" / "happy-path.yaml").read_text()
    pinned = tmp_path / "seed-happy.yaml"
    pinned.write_text(text.replace("name: happy-path", "name: seed-happy") + "flows: [seed]\n")
    result = run_cli("chaos", str(pinned), "--report-dir", str(tmp_path / "reports"))
    [results] = (tmp_path / "reports").glob("*/results.json")
    assert [r["id"] for r in json.loads(results.read_text())["runs"]] == ["seed-happy[seed]"]
    assert result.returncode in (0, 1), result.stderr
    missing = tmp_path / "missing.yaml"
    missing.write_text(text + "flows: [gold]\n")
    done = run_cli("chaos", str(missing), "--report-dir", str(tmp_path / "reports"))
    assert_one_line_error(done, "missing.yaml#/flows", "flow sets gold, and none is here")


def test_lint_and_budget_are_attached() -> None:
    assert run_cli("lint", str(HARDENED)).returncode == 0
    seed = run_cli("lint", str(ROOT / "contracts" / "flows" / "seed"), "--format", "json")
    assert seed.returncode == 1 and json.loads(seed.stdout)["summary"]["error"] > 0
    assert run_cli("budget", str(HARDENED)).returncode == 0


@pytest.mark.parametrize(
    "sig,code",
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGQUIT, 131)],
)
def test_killed_halfway_leaves_nothing_on_the_toxiproxy_server(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    serve = [*CLI, "toxiproxy", "serve", "--port", "0"]
    with subprocess.Popen(serve, stdout=subprocess.PIPE, text=True, cwd=ROOT) as server:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        scenario = ROOT / "scenarios" / "latency-over-timeout.yaml"
        chaos_cmd = [*CLI, "chaos", str(scenario), "--toxiproxy-url", url]
        chaos_cmd += ["--report-dir", str(tmp_path)]
        with subprocess.Popen(
            chaos_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        ) as chaos:
            assert _wait_for_toxic(url), "the run never applied its toxic"
            chaos.send_signal(sig)
            _, err = chaos.communicate(timeout=30)
        assert "Traceback" not in err
        assert chaos.returncode == code
        assert httpx.get(f"{url}/proxies").json() == {}
        (report,) = tmp_path.iterdir()
        results = json.loads((report / "results.json").read_text())
        assert results["complete"] is False
        assert results["incomplete_reason"] == f"interrupted by {sig.name}"
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=10)


def test_an_interrupted_suite_keeps_every_finished_run(tmp_path: Path) -> None:
    serve = [*CLI, "toxiproxy", "serve", "--port", "0"]
    with subprocess.Popen(serve, stdout=subprocess.PIPE, text=True, cwd=ROOT) as server:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        names = ("happy-path", "latency-over-timeout")
        scenarios = [ROOT / "scenarios" / f"{n}.yaml" for n in names]
        suite_cmd = [*CLI, "suite", *map(str, scenarios), "--flows", str(HARDENED)]
        suite_cmd += ["--toxiproxy-url", url, "--report-dir", str(tmp_path)]
        with subprocess.Popen(
            suite_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        ) as suite:
            finished = _wait_for_finished_runs(tmp_path, 1)
            assert finished == ["happy-path[hardened]"], "the fast run never finished first"
            assert _wait_for_toxic(url)
            suite.send_signal(signal.SIGTERM)
            _, err = suite.communicate(timeout=30)
        assert suite.returncode == 143 and "Traceback" not in err
        assert "1 finished runs kept" in err
        assert httpx.get(f"{url}/proxies").json() == {}
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=10)
    (report,) = tmp_path.iterdir()
    results = json.loads((report / "results.json").read_text())
    assert (results["complete"], results["incomplete_reason"]) == (False, "interrupted by SIGTERM")
    assert [r["id"] for r in results["runs"]] == ["happy-path[hardened]"]
    assert results["runs"][0]["verdict"] == "pass"
    events = (report / "events.jsonl").read_text().splitlines()
    assert events and {json.loads(line)["run"] for line in events} == {"happy-path[hardened]"}
    assert "happy-path[hardened]" in (report / "junit.xml").read_text()
    assert "happy-path[hardened]" in (report / "report.html").read_text()


def _wait_for_finished_runs(report_dir: Path, count: int) -> list[str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for results in report_dir.glob("*/results.json"):
            runs = json.loads(results.read_text())["runs"]
            if len(runs) >= count:
                return [r["id"] for r in runs]
        time.sleep(0.05)
    return []


def _wait_for_toxic(url: str) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        proxies = httpx.get(f"{url}/proxies").json()
        if any(p["toxics"] for p in proxies.values()):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--host", "0.0.0.0"], "--allow-non-loopback"),
        (["--port", "70000"], "70000"),
        (["--port", "-1"], "-1"),
        (["--host", "no-such-host.invalid"], "no-such-host.invalid"),
        (["--max-proxies", "0"], "--max-proxies"),
    ],
)
def test_toxiproxy_serve_refuses_bad_options_in_one_line(args: list[str], needle: str) -> None:
    result = run_cli("toxiproxy", "serve", *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert needle in result.stderr


def test_a_selection_that_matches_no_run_is_exit_2_not_green(tmp_path: Path) -> None:
    scenario = tmp_path / "orders.yaml"
    scenario.write_text("name: orders\nflows: [orders]\nexpect: [{outcome: hangup}]\n")
    result = run_cli("suite", str(scenario), "--report-dir", str(tmp_path / "reports"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "nothing would run" in result.stderr and "orders" in result.stderr
    assert not (tmp_path / "reports").exists()


def test_after_sigkill_the_next_run_prunes_the_dead_runs_proxies(tmp_path: Path) -> None:
    serve = [*CLI, "toxiproxy", "serve", "--port", "0"]
    with subprocess.Popen(serve, stdout=subprocess.PIPE, text=True, cwd=ROOT) as server:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        # a proxy not made by the harness, and one of a live process on this host
        foreign = {"name": "someone-elses", "upstream": "127.0.0.1:9", "listen": "127.0.0.1:0"}
        assert httpx.post(f"{url}/proxies", json=foreign).status_code == 201
        live = {**foreign, "name": f"live-x@{_hostname()}:{os.getpid()}"}
        assert httpx.post(f"{url}/proxies", json=live).status_code == 201
        scenario = ROOT / "scenarios" / "latency-over-timeout.yaml"
        chaos_cmd = [*CLI, "chaos", str(scenario), "--toxiproxy-url", url]
        with subprocess.Popen(
            [*chaos_cmd, "--report-dir", str(tmp_path)], stdout=subprocess.PIPE, cwd=ROOT
        ) as chaos:
            assert _wait_for_toxic(url)
            chaos.kill()
            chaos.wait(timeout=10)
        left = set(httpx.get(f"{url}/proxies").json())
        dead = {n for n in left if n.endswith(f":{chaos.pid}")}
        assert dead, "SIGKILL left nothing behind to prune"
        pruned = run_cli("toxiproxy", "prune", "--toxiproxy-url", url)
        assert pruned.returncode == 0 and f"{len(dead)} proxies of dead runs" in pruned.stdout
        assert set(httpx.get(f"{url}/proxies").json()) == left - dead
        # and a run that starts later prunes on its own
        with subprocess.Popen([*chaos_cmd, "--report-dir", str(tmp_path)], cwd=ROOT) as again:
            assert _wait_for_toxic(url)
            again.kill()
            again.wait(timeout=10)
        happy = ROOT / "scenarios" / "happy-path.yaml"
        done = run_cli("chaos", str(happy), "--toxiproxy-url", url, "--report-dir", str(tmp_path))
        assert done.returncode == 0, done.stdout + done.stderr
        assert set(httpx.get(f"{url}/proxies").json()) == {"someone-elses", live["name"]}
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=10)


def _hostname() -> str:
    from harness.faults.client import owner_suffix

    return owner_suffix()[1:].rpartition(":")[0]


@pytest.mark.parametrize(
    "url,needle",
    [("http://127.0.0.1:99999", "not a Toxiproxy URL"), ("http://127.0.0.1:9", "unreachable")],
)
def test_a_bad_or_dead_toxiproxy_url_is_exit_2_and_leaves_no_report(
    tmp_path: Path, url: str, needle: str
) -> None:
    scenario = ROOT / "scenarios" / "happy-path.yaml"
    result = run_cli("chaos", str(scenario), "--toxiproxy-url", url, "--report-dir", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert needle in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_bad_scenario_is_an_error_of_its_own_and_the_others_still_run(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text(
        "name: x\nfaults: [{target: mainframe, toxic: {type: latency}}]\n"
        "expect: [{outcome: hangup}]\n"
    )
    happy = ROOT / "scenarios" / "happy-path.yaml"
    reports = tmp_path / "reports"
    result = run_cli(
        "suite", str(happy), str(bad), "--flows", str(HARDENED), "--report-dir", str(reports)
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and str(bad) in errors[0] and "mainframe" in errors[0]
    (folder,) = reports.iterdir()
    runs = {
        r["id"]: r["verdict"] for r in json.loads((folder / "results.json").read_text())["runs"]
    }
    assert runs == {"x[(not loaded)]": "error", "happy-path[hardened]": "pass"}


def test_an_expectation_naming_no_step_is_exit_2_before_any_run(tmp_path: Path) -> None:
    scenario = tmp_path / "typo.yaml"
    scenario.write_text("name: typo\nexpect: [{never_visits: play-stat}]\n")
    reports = tmp_path / "reports"
    result = run_cli("suite", str(scenario), "--flows", str(HARDENED), "--report-dir", str(reports))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(scenario) in result.stderr and "#/expect/0/never_visits" in result.stderr
    assert "play-stat" in result.stderr and not reports.exists()
