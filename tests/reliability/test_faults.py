"""Faults: SIGKILL with work in flight, a graceful stop, a database that is unusable or locked."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import wait_until
from tests.live import ServerProcess, port_is_free


def counts(server: ServerProcess) -> dict[str, int]:
    return httpx.get(server.url + "/tasks/counts").json()


def get_task(server: ServerProcess, task_id: str) -> dict:
    r = httpx.get(f"{server.url}/tasks/{task_id}")
    assert r.status_code == 200, r.text
    return r.json()


def submit(server: ServerProcess, wait_time: int) -> str:
    r = httpx.post(server.url + "/tasks", json={"wait_time": wait_time})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def test_kill_9_with_work_in_flight_loses_nothing_and_runs_nothing_twice(tmp_path):
    env = {"FPX_MAX_RUNNING": "10", "FPX_LOG_LEVEL": "warning"}
    first = ServerProcess(tmp_path, env)
    with first:
        running = [submit(first, 3600) for _ in range(10)]
        pending = [submit(first, 1) for _ in range(20)]
        wait_until(lambda: counts(first)["running"] == 10, 10, what="10 running")
        assert counts(first)["pending"] == 20
        first.proc.kill()  # SIGKILL: no lifespan shut-down, no chance to clean up
        first.wait(10)

    with ServerProcess(tmp_path, env, db=first.db) as second:
        # The dead server's running tasks are interrupted at start-up, at once.
        for task_id in running:
            task = get_task(second, task_id)
            assert task["status"] == "interrupted", task
            assert "stopped before it finished" in task["error"]
        wait_until(lambda: counts(second)["succeeded"] == 20, 30, what="the 20 pending to run")
        for task_id in pending:
            task = get_task(second, task_id)
            assert task["status"] == "succeeded" and task["attempts"] == 1, task
            assert task["worker"].split(":")[1] == str(second.pid)
        assert counts(second) == {
            "pending": 0, "running": 0, "succeeded": 20, "failed": 0, "cancelled": 0,
            "interrupted": 10,
        }


def test_sigterm_stops_within_the_shutdown_timeout_and_pending_resume(tmp_path):
    env = {"FPX_MAX_RUNNING": "2", "FPX_SHUTDOWN_TIMEOUT": "1"}
    first = ServerProcess(tmp_path, env)
    with first:
        running = [submit(first, 3600) for _ in range(2)]
        pending = [submit(first, 0) for _ in range(3)]
        wait_until(lambda: counts(first)["running"] == 2, 10)
        started = time.monotonic()
        first.signal(signal.SIGTERM)
        first.wait(30)
        stopped_in = time.monotonic() - started
    # A logical bound, not a benchmark: the jobs wanted an hour, the timeout is one second.
    assert stopped_in < 20, stopped_in
    assert port_is_free(first.port)
    log = first.log()
    assert "waiting up to 1.0s for 2 running tasks" in log
    assert "interrupted 2 running tasks" in log
    assert "fpx stopped" in log

    with ServerProcess(tmp_path, env, db=first.db) as second:
        for task_id in running:
            task = get_task(second, task_id)
            assert task["status"] == "interrupted"
            assert task["error"] == "interrupted: the server stopped while it ran"
        wait_until(lambda: all(get_task(second, t)["status"] == "succeeded" for t in pending), 10)


def _start_fails(tmp_path: Path, db: Path, words: list[str]) -> str:
    server = ServerProcess(tmp_path, {"FPX_DB": str(db)}, db=db, wait_ready=False)
    with server:
        code = server.wait(timeout=30)
        log = server.log()
    assert code != 0
    assert "fpx ready" not in log and "Application startup failed" in log
    for word in words:
        assert word in log, (word, log)
    return log


def test_a_database_that_is_not_a_database_fails_start_up_clearly(tmp_path):
    db = tmp_path / "garbage.db"
    db.write_bytes(b"\x00not sqlite\xff" * 1000)
    _start_fails(tmp_path, db, [f"opening database {db} failed", "file is not a database"])
    assert db.read_bytes() == b"\x00not sqlite\xff" * 1000  # and it was left as it was


def test_a_database_that_is_not_writable_fails_start_up_clearly(tmp_path):
    # /proc refuses new files even to root, whom file modes would not stop.
    db = Path("/proc/fpx-test.db")
    _start_fails(tmp_path, db, [f"opening database {db} failed", "cannot open database"])


def test_a_database_path_under_a_file_fails_start_up_clearly(tmp_path):
    (tmp_path / "afile").write_text("x")
    db = tmp_path / "afile" / "fpx.db"
    _start_fails(tmp_path, db, [f"opening database {db} failed", f"{db.parent} is not a directory"])


def test_a_locked_database_delays_requests_without_failing_them(tmp_path):
    with ServerProcess(tmp_path) as server:
        locker = sqlite3.connect(server.db, timeout=10, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        results: dict[str, httpx.Response] = {}

        def write() -> None:
            results["item"] = httpx.post(server.url + "/items", json={"name": "x"}, timeout=30)

        writer = threading.Thread(target=write)
        writer.start()
        try:
            # While the write waits for the lock, the event loop is free: predict answers.
            for _ in range(20):
                assert httpx.get(server.url + "/predict", params={"x": 1}).status_code == 200
            assert "item" not in results  # still waiting for the lock
        finally:
            locker.execute("ROLLBACK")
            locker.close()
            writer.join(30)
        assert results["item"].status_code == 201, results["item"].text
        item = results["item"].json()
        assert httpx.get(f"{server.url}/items/{item['id']}").json() == item


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_either_stop_signal_runs_the_lifespan_shut_down(tmp_path, sig):
    with ServerProcess(tmp_path) as server:
        server.signal(sig)
        server.wait(20)
    assert "closing database: done" in server.log()


def test_a_second_server_on_a_busy_port_touches_no_task(tmp_path):
    env = {"FPX_MAX_RUNNING": "1"}
    with ServerProcess(tmp_path, env) as live:
        for _ in range(4):
            submit(live, 3600)
        wait_until(lambda: counts(live)["running"] == 1, 10, what="one task running")
        second = ServerProcess(
            tmp_path / "second", env, db=live.db, port=live.port, wait_ready=False
        )
        with second:
            assert second.wait(timeout=30) == 3
        log = second.log()
        assert log.splitlines()[-1].endswith(
            f"cannot listen on 127.0.0.1:{live.port}: the port is in use (is another server"
            " running there?); nothing was started"
        ), log
        assert "task runner" not in log and "opening database" not in log
        # The live server's tasks are as they were: one running, three waiting for it.
        assert counts(live) == {
            "pending": 3, "running": 1, "succeeded": 0, "failed": 0, "cancelled": 0,
            "interrupted": 0,
        }
