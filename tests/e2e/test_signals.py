"""Signals while a server starts: nothing is left behind, whichever way fpx is stopped.

The model loader of `slow` touches `loading` (so the test knows the server is inside its
start-up, where the server aborts at once on SIGTERM) and then sleeps for 30 s.
"""

from __future__ import annotations

import json
import re
import signal
import socket
from pathlib import Path

import pytest

from cli import procs
from tests.e2e.conftest import records, run
from tests.helpers import wait_until

SLOW_MODEL = """\
import pathlib
import time


def load_slow():
    pathlib.Path("loading").touch()
    time.sleep(30)
    return lambda x: x
"""
SLOW = ["--port", "0", "--db", "fpx.db", "--model", "slow=mymodels:load_slow"]


@pytest.fixture
def slow_model(workdir: Path) -> Path:
    (workdir / "mymodels.py").write_text(SLOW_MODEL)
    return workdir / "loading"


def starting_record(workdir: Path) -> dict:
    [record] = records(workdir)
    assert record["starting"] is True
    assert procs.is_running(record["pid"], record["proc_start"])
    return record


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_during_a_detached_start_stops_the_server(spawn, workdir, slow_model, sig):
    fpx = spawn("serve", "--detach", *SLOW)
    wait_until(slow_model.exists, timeout=30, what="the model to start loading")
    server = starting_record(workdir)["pid"]
    fpx.send_signal(sig)
    assert fpx.wait(timeout=20) == 128 + sig
    assert not procs.is_running(server)  # stopped before fpx exited
    assert records(workdir) == []
    assert fpx.stderr.read() == f"stopped the fpx server that was starting (pid {server})\n"


def test_a_detached_start_killed_with_sigkill_is_seen_and_stopped(
    spawn, workdir, env, slow_model
):
    fpx = spawn("serve", "--detach", *SLOW)
    wait_until(slow_model.exists, timeout=30, what="the model to start loading")
    record = starting_record(workdir)
    fpx.kill()
    fpx.wait(10)
    assert procs.is_running(record["pid"])  # a detached server outlives fpx

    status = run(workdir, env, "status")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["state"] == "starting"
    assert status.stderr == (
        f"the fpx serve --detach that started it (pid {fpx.pid}) is gone; fpx stop stops it\n"
    )
    again = run(workdir, env, "serve", "--detach", *SLOW)
    assert again.returncode == 1
    assert again.stderr.startswith(
        f"error: an fpx server is starting detached at {record['url']} (pid {record['pid']})\n"
    )
    stopped = run(workdir, env, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["pid"] == record["pid"]
    assert not procs.is_running(record["pid"])
    assert records(workdir) == []


def test_sigkill_of_fpx_serve_during_start_up_leaves_no_server(serve, workdir, slow_model):
    # PR_SET_PDEATHSIG sends the server SIGTERM; during its start-up it aborts at once
    # (server/lifespan.py) rather than after its model has loaded.
    fpx = serve("--model", "slow=mymodels:load_slow")
    wait_until(slow_model.exists, timeout=30, what="the model to start loading")
    server = int(re.search(r"Started server process \[(\d+)\]", fpx.stderr())[1])
    assert procs.is_running(server)
    fpx.signal(signal.SIGKILL)
    fpx.wait()
    wait_until(lambda: not procs.is_running(server), timeout=5, what="the server to exit")


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_during_check_stops_its_server_then_exits_130(spawn, presses):
    check = spawn("check")
    line = check.stderr.readline()
    found = re.search(r"checking a throwaway fpx server at \S+ \(pid (\d+)\)", line)
    assert found, line
    server = int(found[1])
    for _ in range(presses):  # a second Ctrl-C, during the stop, kills the server
        check.send_signal(signal.SIGINT)
    assert check.wait(timeout=20) == 130
    assert not procs.is_running(server)  # stopped before fpx exited, never after
    assert check.stderr.read() == (
        f"interrupted: stopped the throwaway fpx server (pid {server})\n"
    )


@pytest.mark.parametrize("args", [["predict", "3.5"], ["check"], ["users", "list"]],
                         ids=" ".join)
def test_ctrl_c_during_a_request_exits_130_without_a_traceback(spawn, args):
    # A server that accepts the connection and never answers: fpx is inside its request.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(30)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        fpx = spawn("--url", url, "--request-timeout", "60", *args)
        connection, _ = listener.accept()
        with connection:
            fpx.send_signal(signal.SIGINT)
            assert fpx.wait(timeout=20) == 130
    stderr = fpx.stderr.read()
    assert "Traceback" not in stderr and "Aborted" not in stderr, stderr
