"""The run's refused port: connections are refused for as long as the run holds it."""

from __future__ import annotations

import socket

import pytest

from harness.scenario.environment import RefusedPort


def _connect(address: str) -> None:
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=2):
        pass


def test_a_held_port_refuses_connections() -> None:
    refused = RefusedPort()
    try:
        with pytest.raises(ConnectionRefusedError):
            _connect(refused.address)
    finally:
        refused.close()


def test_nobody_else_can_listen_on_a_held_port() -> None:
    refused = RefusedPort()
    port = int(refused.address.rpartition(":")[2])
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(OSError):
            other.bind(("127.0.0.1", port))
    finally:
        other.close()
        refused.close()
