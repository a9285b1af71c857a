"""`fpx serve` as a user runs it: real processes, real signals, nothing left behind."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import httpx
import pytest

from cli import procs
from tests.e2e.conftest import can_listen, processes_in, records, run
from tests.helpers import wait_until


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_then_stop_it_with_a_signal(serve, workdir, sig):
    fpx = serve()
    ready = fpx.ready()
    assert ready["models"] == ["answer_to_everything"]
    assert ready["docs"] == ready["url"] + "/docs"
    assert ready["db"] == str(workdir / "fpx.db")
    assert get(ready["url"] + "/predict?x=3.5")["result"] == 147.0
    assert procs.holds_listener(ready["pid"], port_of(ready["url"]))

    fpx.signal(sig)
    assert fpx.wait() == 0
    assert not procs.is_running(ready["pid"])
    assert can_listen(port_of(ready["url"]))
    log = fpx.stderr()
    assert "stopping the fpx server (Ctrl-C again to kill it)" in log
    assert "fpx stopped" in log  # the server's own log, streamed: its shut-down ran
    assert processes_in(workdir) == []


def test_a_second_ctrl_c_kills_a_server_slow_to_stop(serve, workdir):
    # With a task running and a long shutdown timeout, a graceful stop would take 60 s.
    fpx = serve(extra_env={"FPX_SHUTDOWN_TIMEOUT": "60"})
    ready = fpx.ready()
    request = urllib.request.Request(
        ready["url"] + "/tasks", data=b'{"wait_time": 600}', method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=5).close()
    wait_until(lambda: get(ready["url"] + "/tasks/counts")["running"] == 1, what="a task to run")
    fpx.signal(signal.SIGINT)
    wait_until(lambda: "stopping task runner" in fpx.stderr() or "fpx stopping" in fpx.stderr(),
               what="the server to start stopping")
    fpx.signal(signal.SIGINT)
    assert fpx.wait(timeout=20) == 0
    assert not procs.is_running(ready["pid"])
    assert can_listen(port_of(ready["url"]))


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_of_fpx_leaves_no_server(serve, workdir, workers):
    fpx = serve("--workers", str(workers))
    ready = fpx.ready()
    server = ready["pid"]
    # The server process, and with --workers its supervisor's worker processes.
    wait_until(lambda: len(procs.group_members(server)) >= 1 + (workers if workers > 1 else 0),
               what="the workers to start")
    assert len(processes_in(workdir)) >= 2  # fpx and at least the server

    fpx.signal(signal.SIGKILL)
    fpx.wait()
    wait_until(lambda: not procs.group_members(server), timeout=30,
               what="the server and its workers to exit")
    wait_until(lambda: can_listen(port_of(ready["url"])), what="the port to be free")
    assert processes_in(workdir) == []


def test_port_in_use_is_reported_before_anything_starts(workdir, env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        for detach in ([], ["--detach"]):
            result = run(workdir, env, "serve", "--port", str(port), "--db", "x.db", *detach)
            assert result.returncode == 1
            assert result.stderr == f"error: 127.0.0.1:{port} is already in use\n"
            assert not (workdir / "x.db").exists()  # no server ever started


def test_a_failing_model_from_the_environment(workdir, env):
    result = run(workdir, {**env, "FPX_MODELS": "bad=nosuch.module:load"},
                 "serve", "--port", "0", "--db", "fpx.db")
    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        "error: the server exited during start-up (exit code 3): loading 2 models failed after"
    ) in result.stderr
    assert "model 'bad' (nosuch.module:load) failed to load: ModuleNotFoundError: No module" \
        " named 'nosuch'" in result.stderr
    assert "Traceback" in result.stderr  # the server's own log, streamed as it came


def test_a_failing_model_detached_shows_the_last_lines_of_its_log(workdir, env):
    result = run(workdir, env, "serve", "--detach", "--port", "0", "--db", "fpx.db",
                 "--model", "bad=nosuch.module:load")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: the server exited during start-up (exit code 3): ")
    assert "No module named 'nosuch'" in lines[0]
    assert "  last lines it logged:" in lines
    assert "Application startup failed. Exiting." in result.stderr
    assert lines[-1] == f"  full log: {workdir / 'state' / 'server.log'}"
    assert records(workdir) == []


def test_a_model_from_the_current_directory_and_a_startup_timeout(workdir, env):
    (workdir / "mymodels.py").write_text(
        "import time\n\n"
        "def load_double():\n    return lambda x: x * 2\n\n"
        "def load_slow():\n    time.sleep(600)\n"
    )
    result = run(workdir, env, "serve", "--detach", "--port", "0", "--db", "fpx.db",
                 "--model", "double=mymodels:load_double")
    assert result.returncode == 0, result.stderr
    url = json.loads(result.stdout)["url"]
    assert get(url + "/predict?x=4&model=double")["result"] == 8.0
    assert run(workdir, env, "stop").returncode == 0

    # Long enough for the server to log its start before the loader hangs, on a busy machine.
    result = run(workdir, env, "serve", "--port", "0", "--db", "fpx.db",
                 "--model", "slow=mymodels:load_slow", "--startup-timeout", "8")
    assert result.returncode == 1
    # Its last log line (an INFO entry) is no reason: the error only says what happened.
    error = next(line for line in result.stderr.splitlines() if line.startswith("error: "))
    assert error == "error: the server was not ready within 8 s"
    assert "(the server's log is above)" in result.stderr

    result = run(workdir, env, "serve", "--detach", "--port", "0", "--db", "fpx.db",
                 "--model", "slow=mymodels:load_slow", "--startup-timeout", "8")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[:2] == ["error: the server was not ready within 8 s", "  last lines it logged:"]
    assert "Waiting for application startup." in result.stderr  # the context
    assert records(workdir) == []


def test_the_console_script():
    fpx = Path(sys.executable).with_name("fpx")
    if not fpx.exists():
        pytest.skip("fpx is not installed as a console script here")
    result = subprocess.run([str(fpx), "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert result.stdout.startswith("fpx ")


def test_a_server_that_dies_after_start_up_is_reported(serve, workdir):
    fpx = serve()
    ready = fpx.ready()
    os.kill(ready["pid"], signal.SIGKILL)
    assert fpx.wait() == 1
    assert "error: the server exited unexpectedly (exit code -9)" in fpx.stderr()


def test_the_server_keeps_serving_when_fpx_serves_stderr_is_gone(spawn):
    # `fpx serve 2>&1 | head`: once nobody reads fpx's stderr, the server's log must still be
    # drained, or the server blocks on a full pipe. 1,000 logged requests are ~100 KB of log.
    proc = spawn("serve", "--port", "0", "--db", "fpx.db", "--log-level", "debug")
    proc.stderr.close()
    ready = json.loads(proc.stdout.readline())
    host, port = ready["url"].removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    for x in range(1000):
        conn.request("GET", f"/predict?x={x}")
        assert json.loads(conn.getresponse().read())["result"] == x * 42
    conn.close()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0


def test_the_server_runs_with_the_options_given(serve, workdir):
    fpx = serve("--max-wait", "7", "--log-level", "warning")
    ready = fpx.ready()
    assert ready["db"] == str(workdir / "fpx.db") and (workdir / "fpx.db").exists()
    tasks = ready["url"] + "/tasks"
    assert httpx.post(tasks, json={"wait_time": 8}).status_code == 422  # --max-wait 7
    assert httpx.post(tasks, json={"wait_time": 0}).status_code == 202
    fpx.signal(signal.SIGINT)
    assert fpx.wait() == 0


def _ignored_signals(pid: int) -> set[int]:
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1],
               16)
    return {sig for sig in range(1, 65) if mask & (1 << (sig - 1))}


def test_the_server_does_not_inherit_ignored_stop_signals(serve):
    # As under `nohup fpx serve`: fpx is started with SIGHUP ignored. It handles SIGHUP itself
    # before it spawns the server, which so starts with SIGHUP at its default: a stop signal
    # reaches it.
    fpx = serve(preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    ready = fpx.ready()
    assert signal.SIGHUP not in _ignored_signals(ready["pid"])
    fpx.signal(signal.SIGINT)
    assert fpx.wait() == 0


@pytest.mark.parametrize(("args", "code", "says"), [
    (["--port", "nine"], 2, "Invalid value for '--port'"),
    (["--model", "no-loader"], 2, "--model 'no-loader' is not of the form NAME=module:attr"),
    (["--port", "HELD"], 1, "is already in use"),
], ids=["bad port", "bad model", "port in use"])
def test_a_serve_that_stops_before_starting_leaves_nothing(workdir, env, held_port, args, code,
                                                          says):
    args = [str(held_port) if a == "HELD" else a for a in args]
    result = run(workdir, env, "serve", "--db", "fpx.db", *args)
    assert (result.returncode, result.stdout) == (code, "")
    assert says in result.stderr and "Traceback" not in result.stderr
    assert processes_in(workdir) == []
    assert not (workdir / "fpx.db").exists()
