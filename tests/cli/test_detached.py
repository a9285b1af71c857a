"""`fpx status`, `fpx stop` and `fpx logs` against state records in a temporary directory."""

from __future__ import annotations

import json
import os

import pytest

from cli import procs, state
from cli.errors import ExitCode
from tests.cli.conftest import server_env
from tests.live import ServerProcess, port_is_free


def record_for(server: ServerProcess, **overrides) -> state.ServerRecord:
    fields = dict(
        url=server.url, pid=server.pid, log=str(server.log_path), db=str(server.db),
        started_at=0.0, proc_start=procs.start_time(server.pid), stop_timeout=10.0,
    )
    return state.ServerRecord(**{**fields, **overrides})


@pytest.mark.parametrize("command", ["status", "stop"])
def test_none_running_is_exit_3(fpx, command, free_url, monkeypatch):
    monkeypatch.setenv("FPX_URL", free_url)  # nothing answers there either
    result = fpx.fails(ExitCode.UNREACHABLE, command)
    assert result.stderr.splitlines() == [
        "error: no detached fpx server is running", "  start one with: fpx serve --detach"
    ]


@pytest.mark.parametrize("command", ["status", "stop"])
def test_a_stale_record_is_noticed_and_removed(fpx, server, command):
    state.save(record_for(server, pid=2**22 + 12345))  # no such process
    result = fpx.fails(ExitCode.UNREACHABLE, command)
    assert "removed the stale record of pid 4206649" in result.stderr
    assert not state.record_path(2**22 + 12345).exists()


def test_a_reused_pid_is_not_trusted(fpx, server):
    state.save(record_for(server, proc_start=1))  # the pid lives, but it is another process
    fpx.fails(ExitCode.UNREACHABLE, "status")
    assert not state.record_path(server.pid).exists()
    assert server.proc.poll() is None  # and nothing was done to the process with that pid


def test_status_of_a_running_server(fpx, server):
    state.save(record_for(server, started_at=1.0))
    data = fpx.json("status")
    assert data["url"] == server.url and data["pid"] == server.pid
    assert data["ready"] is True and data["models"] == ["answer_to_everything"]
    assert set(data["tasks"]) == {"pending", "running", "succeeded", "failed", "cancelled",
                                  "interrupted"}
    assert data["uptime_s"] > 0


def test_status_of_a_server_that_does_not_answer_is_exit_3(fpx, free_url):
    me = os.getpid()
    state.save(state.ServerRecord(url=free_url, pid=me, log="", db="", started_at=0.0,
                                  proc_start=procs.start_time(me)))
    result = fpx.fails(ExitCode.UNREACHABLE, "status")
    assert f"error: the detached server (pid {me}) does not answer at {free_url}" in (
        result.stderr
    )


def test_stop_a_running_server(fpx, tmp_path):
    with ServerProcess(tmp_path, server_env(tmp_path)) as own:
        state.save(record_for(own))
        assert fpx.json("stop") == {"url": own.url, "pid": own.pid, "stopped": True,
                                    "graceful": True}
        assert own.wait(timeout=10) is not None
        assert port_is_free(own.port)
    assert not state.record_path(own.pid).exists()
    fpx.fails(ExitCode.UNREACHABLE, "stop")


def test_logs(fpx, state_dir):
    result = fpx.fails(ExitCode.UNREACHABLE, "logs")
    assert result.stderr.startswith(f"error: no server log at {state.log_path()}\n")
    state_dir.mkdir(parents=True)
    state.log_path().write_text("one\ntwo\nthree\n")
    assert fpx.ok("logs").stdout == "one\ntwo\nthree\n"
    assert fpx.ok("logs", "-n", "2").stdout == "two\nthree\n"
    assert fpx.ok("logs", "--lines", "0").stdout == ""
    # Following without a running server prints what there is and returns.
    assert fpx.ok("logs", "-f").stdout == "one\ntwo\nthree\n"



@pytest.mark.parametrize("edit", [
    {"pid": "abc"}, {"pid": True}, {"pid": -4}, {"url": 7}, {"started_at": "yesterday"},
    {"unknown": 1}, None,
], ids=["pid a string", "pid a bool", "pid negative", "url a number", "a time a string",
        "an unknown field", "not an object"])
def test_a_record_edited_by_hand_is_removed_not_trusted(fpx, server, edit):
    path = state.save(record_for(server))
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, **edit} if edit is not None else [data]))
    result = fpx.fails(ExitCode.UNREACHABLE, "status")
    assert result.stderr.splitlines()[0] == "error: no detached fpx server is running"
    assert not path.exists()
