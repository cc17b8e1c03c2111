"""`backend serve`: refuses non-loopback hosts; serves, and stops on each stop signal."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner

from harness.cli import main


def test_serve_refuses_non_loopback_host() -> None:
    result = CliRunner().invoke(main, ["backend", "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "--allow-non-loopback" in result.output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_serve_prints_urls_and_stops_on_each_stop_signal(signum: signal.Signals) -> None:
    command = [sys.executable, "-m", "harness", "backend", "serve", "--api-key", "k"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(3)]
            urls = dict(line.split()[:2] for line in lines)
            assert set(urls) == {"crm", "tickets", "oauth"}
            faults = httpx.get(urls["crm"] + "/__faults", trust_env=False, timeout=5)
            assert faults.status_code == 200 and faults.json()["backend"] == "crm"
        finally:
            process.send_signal(signum)
            code = process.wait(timeout=10)
            stderr = process.stderr.read() if process.stderr else ""
    # Stopped cleanly by the signal, and it says so: 128 + N, never 0 or -N (killed).
    assert code == 128 + signum, stderr
    assert "Traceback" not in stderr and f"interrupted by {signum.name}" in stderr
