"""The launcher's parts: the port check, the start-up failure reason, process identity."""

from __future__ import annotations

import os

import httpx
import pytest

from cli import procs
from cli.errors import ExitCode
from cli.launcher import (
    PortInUse,
    ServerConfig,
    claim_port,
    connect_url,
    default_db_path,
    ready_answer,
    startup_reason,
)
from tests.cli.conftest import one_line


def test_claim_port(held_port):
    with pytest.raises(PortInUse, match=f"^127.0.0.1:{held_port} is already in use$"):
        claim_port("127.0.0.1", held_port)
    free = claim_port("127.0.0.1", 0)
    assert free > 0
    assert claim_port("127.0.0.1", free) == free


def test_serve_on_a_port_in_use_starts_nothing(fpx, held_port, tmp_path):
    db = tmp_path / "never.db"
    result = fpx.fails(ExitCode.FAILED, "serve", "--port", str(held_port), "--db", str(db))
    assert one_line(result) == f"error: 127.0.0.1:{held_port} is already in use"
    assert not db.exists()


def test_serve_reports_why_the_server_died(fpx, tmp_path):
    result = fpx("serve", "--port", "0", "--db", "/proc/nope/fpx.db")
    assert result.exit_code == ExitCode.FAILED
    assert "error: the server exited during start-up (exit code 3): opening database" in (
        result.stderr
    )
    assert "cannot open database /proc/nope/fpx.db" in result.stderr


@pytest.mark.parametrize("data_home", [None, "/tmp/elsewhere"])
def test_the_default_database_is_the_servers(monkeypatch, data_home):
    from server.settings import default_db_path as servers

    if data_home is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", data_home)
    assert default_db_path() == servers()


def test_ready_answer(server, held_port):
    with httpx.Client(timeout=0.5, trust_env=False) as client:
        assert ready_answer(client, server.url) == {
            "status": "ready", "models": ["answer_to_everything"],
        }
        nothing = f"http://127.0.0.1:{claim_port('127.0.0.1', 0)}"
        assert ready_answer(client, nothing) is None  # nothing listens
        assert ready_answer(client, f"http://127.0.0.1:{held_port}") is None  # never answers


@pytest.mark.parametrize(("status", "body"), [
    (200, b'{"status": "starting"}'),
    (503, b'{"status": "ready"}'),
    (200, b"[1, 2]"),
    (200, b"not json"),
])
def test_an_answer_other_than_ready_is_not_ready(status, body):
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    with httpx.Client(transport=transport) as client:
        assert ready_answer(client, "http://127.0.0.1:1") is None


def test_connect_url():
    assert connect_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert connect_url("0.0.0.0", 1) == "http://127.0.0.1:1"
    assert connect_url("::", 2) == "http://[::1]:2"
    assert connect_url("::1", 3) == "http://[::1]:3"


def test_startup_reason():
    lines = [
        "2026-12-01 07:58:59,734 INFO    uvicorn.error: Started server process [5506]",
        "2026-12-01 07:58:59,746 ERROR   fpx.lifespan: loading 2 models failed: ModuleNotFound",
        "2026-12-01 07:58:59,749 ERROR   uvicorn.error: Traceback (most recent call last):",
        "2026-12-01 07:58:59,749 ERROR   uvicorn.error: Application startup failed. Exiting.",
    ]
    assert startup_reason(lines) == "loading 2 models failed: ModuleNotFound"
    assert startup_reason(["fpx: bad settings:", "1 validation error", "port"]) == "bad settings"
    assert startup_reason(["", "something else", ""]) == "something else"
    assert startup_reason([]) == "no output"
    assert startup_reason(lines[:1]) is None  # an ordinary log line is not a reason


def test_startup_reason_of_a_server_that_logs_json():
    lines = [
        '{"level": "INFO", "logger": "uvicorn.error", "message": "Started server process [1]"}',
        '{"level": "ERROR", "logger": "fpx.lifespan", "message": "loading 2 models failed: X"}',
        '{"level": "ERROR", "logger": "uvicorn.error", "message": "Application startup failed."}',
    ]
    assert startup_reason(lines) == "loading 2 models failed: X"
    assert startup_reason(lines[:1]) is None


def test_config_env_passes_every_setting(tmp_path):
    env = ServerConfig(
        host="0.0.0.0", port=1, db=tmp_path / "x.db", workers=2, reload=True,
        log_level="debug", models=("a=m:f", "b=m:g"), max_wait=9, token="t",
    ).env(1234)
    assert {k: env[k] for k in env if k.startswith("FPX_")} == {
        "FPX_HOST": "0.0.0.0", "FPX_PORT": "1234", "FPX_DB": str(tmp_path / "x.db"),
        "FPX_WORKERS": "2", "FPX_RELOAD": "true", "FPX_LOG_LEVEL": "debug",
        "FPX_MODELS": "a=m:f,b=m:g", "FPX_MAX_WAIT": "9", "FPX_API_TOKEN": "t",
    }


def test_process_identity(held_port):
    me = os.getpid()
    assert procs.is_running(me)
    assert procs.is_running(me, procs.start_time(me))
    assert not procs.is_running(me, (procs.start_time(me) or 0) + 1)
    assert not procs.is_running(2**22 + 12345)
    assert procs.holds_listener(me, held_port) is True
    assert procs.holds_listener(me, claim_port("127.0.0.1", 0)) is False
    assert me in procs.group_members(os.getpgid(me))


def test_serve_on_all_interfaces_without_a_token_warns(fpx, held_port):
    result = fpx("serve", "--host", "0.0.0.0", "--port", str(held_port))
    assert result.exit_code == ExitCode.FAILED
    assert result.stderr.splitlines()[0] == (
        "warning: listening on 0.0.0.0 without a token: the API is open to the network"
        " (pass --token or set FPX_API_TOKEN)"
    )
    for token_first in (["serve", "--token", "t"], ["--token", "t", "serve"]):
        result = fpx(*token_first, "--host", "0.0.0.0", "--port", str(held_port))
        assert "warning" not in result.stderr


def test_serve_reads_its_options_from_the_environment(fpx, held_port, monkeypatch):
    # Each value is accepted (the failure is the port, taken): FPX_RELOAD as a word, the log
    # level in any case, the port from FPX_PORT.
    for name, value in {"FPX_PORT": str(held_port), "FPX_RELOAD": "yes",
                        "FPX_LOG_LEVEL": "WARNING", "FPX_WORKERS": "2"}.items():
        monkeypatch.setenv(name, value)
    result = fpx.fails(ExitCode.FAILED, "serve")
    assert one_line(result) == f"error: 127.0.0.1:{held_port} is already in use"
    monkeypatch.setenv("FPX_RELOAD", "maybe")
    result = fpx.fails(ExitCode.USAGE, "serve")
    assert "Invalid value for '--reload' (env var: 'FPX_RELOAD')" in one_line(result)


def test_a_graceful_stop_is_given_both_of_the_servers_shutdown_phases(monkeypatch):
    # The server gives open connections up to FPX_SHUTDOWN_TIMEOUT, then its running tasks as
    # long again: a kill before both ran out would leave tasks running in the database.
    monkeypatch.setenv("FPX_SHUTDOWN_TIMEOUT", "8")
    assert ServerConfig().stop_timeout() > 2 * 8
    assert ServerConfig(extra_env={"FPX_SHUTDOWN_TIMEOUT": "1"}).stop_timeout() > 2 * 1


def test_a_start_up_failure_in_the_foreground_says_whether_the_log_is_above():
    from cli.launcher import ServerProcess

    server = ServerProcess(ServerConfig(), output="stream")
    assert server._failure("the server was not ready within 1 s").details == [
        "(it logged nothing)"
    ]
    server.lines.append("2026-12-01 10:20:20,295 INFO    uvicorn.error: Started server process")
    assert server._failure("the server was not ready within 1 s").details == [
        "(the server's log is above)"
    ]
