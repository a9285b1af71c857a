"""`fpx task ...`: submit, follow, wait, get, list, cancel, delete, and the exit code of each
ending."""

from __future__ import annotations

import json
import signal
import uuid

from tests.cli.conftest import one_line, server_env
from tests.helpers import wait_until
from tests.live import ServerProcess


def test_submit_prints_the_pending_task(fpx):
    task = fpx.json("task", "submit", "--wait", "1")
    assert task["status"] == "pending" and task["wait_time"] == 1
    uuid.UUID(task["id"])


def test_submit_follow_prints_only_the_final_task(fpx):
    result = fpx.ok("task", "submit", "--wait", "1", "--follow")
    task = json.loads(result.stdout)  # one document: the progress is not printed off a terminal
    assert task["status"] == "succeeded"
    assert task["result"] == "task done after 1"
    assert task["progress"] == 1.0


def test_get_and_list(fpx):
    task = fpx.json("task", "submit", "--wait", "0", "--follow")
    assert fpx.json("task", "get", task["id"]) == task
    listed = fpx.json("task", "list", "--status", "succeeded", "--limit", "1000")
    assert task["id"] in [t["id"] for t in listed]
    assert all(t["status"] == "succeeded" for t in listed)
    assert len(fpx.json("task", "list", "--limit", "1")) == 1


def test_get_unknown_task_is_404(fpx):
    unknown = str(uuid.uuid4())
    result = fpx.fails(1, "task", "get", unknown)
    assert one_line(result) == f"error: 404 Not Found: task {unknown} not found"


def test_cancel_then_cancel_again(fpx):
    task = fpx.json("task", "submit", "--wait", "60")
    cancelled = fpx.json("task", "cancel", task["id"])
    assert cancelled["status"] == "cancelled"
    result = fpx.fails(1, "task", "cancel", task["id"])
    assert "409 Conflict" in one_line(result)
    assert "already finished (cancelled)" in result.stderr


def test_cancel_then_delete_removes_the_task(fpx):
    task = fpx.json("task", "submit", "--wait", "60")
    result = fpx.fails(1, "task", "delete", task["id"])
    assert one_line(result).startswith(f"error: 409 Conflict: task {task['id']} is ")
    assert one_line(result).endswith(f": cancel it first (POST /tasks/{task['id']}/cancel)")
    assert fpx.json("task", "get", task["id"])["status"] in ("pending", "running")
    fpx.ok("task", "cancel", task["id"])
    assert fpx.json("task", "delete", task["id"]) == {"id": task["id"], "deleted": True}
    result = fpx.fails(1, "task", "get", task["id"])
    assert one_line(result) == f"error: 404 Not Found: task {task['id']} not found"
    result = fpx.fails(1, "task", "delete", task["id"])
    assert one_line(result) == f"error: 404 Not Found: task {task['id']} not found"


def test_wait_for_a_succeeded_task_exits_0(fpx):
    task = fpx.json("task", "submit", "--wait", "1")
    done = fpx.json("task", "wait", task["id"], "--timeout", "30")
    assert done["status"] == "succeeded"


def test_wait_for_a_cancelled_task_exits_1(fpx):
    task = fpx.json("task", "submit", "--wait", "60")
    fpx.ok("task", "cancel", task["id"])
    result = fpx.fails(1, "task", "wait", task["id"])
    assert json.loads(result.stdout)["status"] == "cancelled"
    assert one_line(result) == f"error: task {task['id']} cancelled"


def test_wait_timeout_exits_4_with_the_last_state(fpx):
    task = fpx.json("task", "submit", "--wait", "60")
    try:
        result = fpx.fails(4, "task", "wait", task["id"], "--timeout", "0.5")
        assert json.loads(result.stdout)["status"] in ("pending", "running")
        assert f"task {task['id']} is still" in result.stderr
        assert f"fpx task wait {task['id']}" in result.stderr
    finally:
        fpx("task", "cancel", task["id"])


def test_follow_timeout_exits_4(fpx):
    result = fpx.fails(4, "task", "submit", "--wait", "60", "--follow", "--timeout", "0.3")
    fpx("task", "cancel", json.loads(result.stdout)["id"])


def test_wait_for_an_interrupted_task_exits_1(fpx, tmp_path):
    # A task running when its server stops ends `interrupted`; wait reports it as a failure.
    with ServerProcess(tmp_path, server_env(tmp_path)) as own:
        task = fpx.json("task", "submit", "--wait", "60", "--url", own.url)
        wait_until(
            lambda: fpx.json("task", "get", task["id"], "--url", own.url)["status"] == "running",
            what="the task to run",
        )
        own.signal(signal.SIGTERM)
        own.wait(timeout=20)
    with ServerProcess(tmp_path, server_env(tmp_path), db=own.db) as again:
        result = fpx.fails(1, "task", "wait", task["id"], "--url", again.url)
    assert json.loads(result.stdout)["status"] == "interrupted"
    assert one_line(result).startswith(f"error: task {task['id']} interrupted: ")


def test_wait_time_above_the_servers_max_is_its_422(fpx):
    result = fpx.fails(1, "task", "submit", "--wait", "121")  # the suite's FPX_MAX_WAIT is 120
    # The CLI sends the full form, {"job": "sleep", "args": {...}}: the field is args.wait_time.
    assert one_line(result) == (
        "error: 422 Unprocessable Entity: args.wait_time: Input should be less than or equal to 120"
    )
