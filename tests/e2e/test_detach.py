"""`fpx serve --detach`, then `fpx status`, `logs`, a client command, and `fpx stop`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess

import pytest

from cli import procs
from tests.e2e.conftest import FPX, can_listen, records, run
from tests.helpers import wait_until


@pytest.fixture
def detached(workdir, env):
    """Start a detached server; it is killed at the end if the test did not stop it."""
    started: list[dict] = []

    def start(*args: str) -> dict:
        result = run(workdir, env, "serve", "--detach", "--port", "0", "--db", "fpx.db", *args)
        assert result.returncode == 0, result.stderr
        started.append(json.loads(result.stdout))
        return started[-1]

    yield start
    for info in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(info["pid"], signal.SIGKILL)


def test_detach_status_call_logs_stop(detached, workdir, env):
    info = detached()
    assert info["log"] == str(workdir / "state" / "server.log")
    assert procs.is_running(info["pid"])
    # It is in a session of its own, so it outlives the terminal fpx ran in.
    assert os.getsid(info["pid"]) == info["pid"]

    status = json.loads(run(workdir, env, "status").stdout)
    assert status["url"] == info["url"] and status["pid"] == info["pid"]
    assert status["ready"] is True and status["models"] == ["answer_to_everything"]
    assert status["tasks"]["pending"] == 0

    # Client commands find it through its record.
    assert json.loads(run(workdir, env, "predict", "2").stdout)["result"] == 84.0
    assert "fpx ready in" in run(workdir, env, "logs").stdout

    stopped = run(workdir, env, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout) == {"url": info["url"], "pid": info["pid"],
                                          "stopped": True, "graceful": True}
    assert not procs.is_running(info["pid"])
    assert can_listen(int(info["url"].rsplit(":", 1)[1]))
    assert "fpx stopped" in (workdir / "state" / "server.log").read_text()

    assert run(workdir, env, "status").returncode == 3
    assert run(workdir, env, "stop").returncode == 3


def test_one_detached_server_at_a_time(detached, workdir, env):
    info = detached()
    again = run(workdir, env, "serve", "--detach", "--port", "0", "--db", "other.db")
    assert again.returncode == 1
    assert again.stderr.splitlines()[0] == (
        f"error: an fpx server already runs detached at {info['url']} (pid {info['pid']})"
    )
    assert run(workdir, env, "stop").returncode == 0


def test_a_detached_server_that_died_is_a_stale_record(detached, workdir, env):
    info = detached()
    os.kill(info["pid"], signal.SIGKILL)
    wait_until(lambda: not procs.is_running(info["pid"]), what="the server to die")
    status = run(workdir, env, "status")
    assert status.returncode == 3
    assert f"removed the stale record of pid {info['pid']}" in status.stderr
    assert records(workdir) == []


def test_logs_follow_until_the_server_stops(detached, workdir, env):
    info = detached("--log-level", "debug")
    log_file = workdir / "follow.out"
    with log_file.open("wb") as out:
        follower = subprocess.Popen([*FPX, "logs", "-f"], cwd=workdir, env=env, stdout=out)
    try:
        run(workdir, env, "predict", "5")
        wait_until(lambda: "fpx.access: GET /predict 200 " in log_file.read_text(),
                   what="the request to show in the followed log")
        assert run(workdir, env, "stop").returncode == 0
        assert follower.wait(timeout=20) == 0
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait(5)
    assert "fpx stopped" in log_file.read_text()
    assert info["pid"] not in procs.group_members(info["pid"])


def test_a_token_server_keeps_its_token_out_of_status_state_and_logs(detached, workdir, env):
    token = "detached-s3cret-token"
    info = detached("--token", token)
    with_token = {**env, "FPX_API_TOKEN": token}
    assert json.loads(run(workdir, with_token, "users", "me").stdout)["username"]
    refused = run(workdir, env, "users", "me")
    assert refused.returncode == 1 and "pass --token or set FPX_API_TOKEN" in refused.stderr

    plain = run(workdir, with_token, "status")
    rich = run(workdir, {**with_token, "TTY_COMPATIBLE": "1"}, "status")
    assert plain.returncode == 0 and rich.returncode == 0, (plain.stderr, rich.stderr)
    assert json.loads(plain.stdout)["pid"] == info["pid"]
    for text in (plain.stdout, plain.stderr, rich.stdout, rich.stderr,
                 (workdir / "state" / "server.log").read_text()):
        assert token not in text
    for path in (workdir / "state").rglob("*"):
        if path.is_file():
            assert token not in path.read_text(errors="replace"), path
    assert run(workdir, with_token, "stop").returncode == 0
