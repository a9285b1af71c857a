"""`python -m server` as a user starts it: serves, then stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from tests.helpers import wait_until
from tests.live import ServerProcess, port_is_free


def test_python_m_server_serves_and_stops_gracefully(tmp_path):
    server = ServerProcess(tmp_path, {"FPX_SHUTDOWN_TIMEOUT": "0.5"})
    with server:
        assert httpx.get(server.url + "/predict", params={"x": 3.5}).json() == {
            "model": "answer_to_everything", "x": 3.5, "result": 147.0
        }
        task = httpx.post(server.url + "/tasks", json={"wait_time": 3600}).json()
        server.signal(signal.SIGTERM)
        # As uvicorn does, after a complete graceful shut-down the process re-raises the
        # signal it was stopped by, so its parent sees "terminated by SIGTERM".
        assert server.wait(timeout=20) == -signal.SIGTERM
    assert port_is_free(server.port)
    log = server.log()
    for line in ("fpx ready in", "stopping task runner: done", "closing database: done",
                 "releasing 1 model: done", "fpx stopped"):
        assert line in log, log
    with sqlite3.connect(server.db) as conn:
        [(status,)] = conn.execute("SELECT status FROM tasks WHERE id = ?", (task["id"],))
    assert status == "interrupted"


def test_bad_settings_exit_2_with_the_setting_named(tmp_path):
    server = ServerProcess(tmp_path, {"FPX_MAX_WAIT": "soon"}, wait_ready=False)
    with server:
        assert server.wait(timeout=20) == 2
    assert "max_wait" in server.log()


def test_unexpected_arguments_are_refused_with_the_usage():
    done = subprocess.run(
        [sys.executable, "-m", "server", "--port", "80"], capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "fpx: unexpected arguments '--port 80'\n"
        "usage: python -m server   (settings: FPX_* environment variables)\n"
    )


def test_a_websocket_upgrade_is_answered_as_plain_http(tmp_path):
    # fpx has no websocket route, so it loads no websocket implementation (uvicorn ws="none").
    with ServerProcess(tmp_path) as server, socket.create_connection(
        ("127.0.0.1", server.port), timeout=10
    ) as sock:
        sock.sendall(
            b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
            b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_public_host_without_a_token_is_warned_about(tmp_path):
    server = ServerProcess(tmp_path, {"FPX_HOST": "0.0.0.0"})
    with server:
        pass
    assert "without FPX_API_TOKEN: the API is open to the network" in server.log()


def test_a_public_host_with_a_token_is_not_warned_about(tmp_path):
    server = ServerProcess(tmp_path, {"FPX_HOST": "0.0.0.0", "FPX_API_TOKEN": "t0ken"})
    with server:
        pass
    log = server.log()
    assert "open to the network" not in log and "t0ken" not in log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_during_start_up_aborts_it_at_once(tmp_path, sig):
    env = {"FPX_MODELS": "slow=tests.server.sample_models:load_slow"}
    server = ServerProcess(tmp_path, env, wait_ready=False)
    with server:
        wait_until(lambda: "Waiting for application startup" in server.log(), 20)
        server.signal(sig)
        # Not the two minutes the loader would take.
        assert server.wait(timeout=10) == 3
    log = server.log()
    assert f"stop requested during start-up ({sig.name}): aborting" in log
    assert "fpx ready" not in log


def test_a_client_holding_a_request_open_does_not_hold_up_a_stop(tmp_path):
    server = ServerProcess(tmp_path, {"FPX_SHUTDOWN_TIMEOUT": "1"})
    with server, socket.create_connection(("127.0.0.1", server.port)) as slow:
        # Half a request: headers promise a body that never comes.
        slow.sendall(b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        wait_until(lambda: httpx.get(server.url + "/livez").status_code == 200, 5)
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        server.wait(timeout=30)
        # Bounded by the shutdown timeout (once for connections, once for tasks), not forever.
        assert time.monotonic() - started < 15
    assert "fpx stopped" in server.log()
