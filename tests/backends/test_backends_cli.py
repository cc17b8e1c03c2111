"""`backend serve`: refuses non-loopback hosts; serves and stops on SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
from click.testing import CliRunner

from harness.cli import main


def test_serve_refuses_non_loopback_host() -> None:
    result = CliRunner().invoke(main, ["backend", "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "--allow-non-loopback" in result.output


def test_serve_prints_urls_and_stops_on_ctrl_c() -> None:
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
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=10)
    assert code == 0
