"""Tasks live in the database: they survive a restart and are shared by every app on it
(on both backends, but for SQLite's noticing a dead local process by its pid)."""

from __future__ import annotations

import asyncio
import time

from fastapi.testclient import TestClient

from server.app import create_app
from tests.helpers import wait_until
from tests.server.test_runner import _dead_pid, _leave_behind


def status_of(client: TestClient, task_id: str) -> str:
    return client.get(f"/tasks/{task_id}").json()["status"]


def test_restart_runs_pending_and_interrupts_what_was_running(settings, db_path):
    with TestClient(create_app(settings)):
        pass  # a first start creates the database file
    running_id, pending_id = asyncio.run(_leave_behind(
        db_path, worker_pid=_dead_pid(), heartbeat_age=0.0
    ))
    settings.lease_timeout = 3600  # the dead process is noticed by its pid, not its lease

    with TestClient(create_app(settings)) as client:
        task = client.get(f"/tasks/{running_id}").json()
        assert task["status"] == "interrupted"
        assert "stopped before it finished" in task["error"]
        wait_until(lambda: status_of(client, pending_id) == "succeeded", 5, what="pending to run")


def test_graceful_stop_interrupts_running_and_a_restart_runs_pending(any_settings):
    any_settings.max_running = 1
    any_settings.shutdown_timeout = 0.1
    with TestClient(create_app(any_settings)) as client:
        running_id = client.post("/tasks", json={"wait_time": 3600}).json()["id"]
        pending_id = client.post("/tasks", json={"wait_time": 0}).json()["id"]
        wait_until(lambda: status_of(client, running_id) == "running", 5)
        assert status_of(client, pending_id) == "pending"
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 30  # bounded by shutdown_timeout, not the hour

    with TestClient(create_app(any_settings)) as client:
        task = client.get(f"/tasks/{running_id}").json()
        assert task["status"] == "interrupted"
        assert task["error"] == "interrupted: the server stopped while it ran"
        wait_until(lambda: status_of(client, pending_id) == "succeeded", 5)


def test_two_apps_on_one_database_share_tasks(any_settings):
    with TestClient(create_app(any_settings)) as a, TestClient(create_app(any_settings)) as b:
        task_id = a.post("/tasks", json={"wait_time": 3600}).json()["id"]
        assert b.get(f"/tasks/{task_id}").status_code == 200
        wait_until(lambda: status_of(b, task_id) == "running", 5)
        # Whichever app runs it (on PostgreSQL an idle b is told of it, and may be first),
        # cancelled through the other it stops within about a second.
        owner, other = (a, b) if task_id in a.app.state.runner.running else (b, a)
        assert task_id in owner.app.state.runner.running
        assert other.post(f"/tasks/{task_id}/cancel").json()["status"] == "cancelled"
        wait_until(lambda: task_id not in owner.app.state.runner.running, 1.5,
                   what="its worker to stop it")
        assert status_of(a, task_id) == "cancelled"

        item = b.post("/items", json={"name": "shared"}).json()
        assert a.get(f"/items/{item['id']}").json() == item


def test_predict_answers_while_max_running_tasks_sleep(any_settings):
    any_settings.max_running = 200
    any_settings.shutdown_timeout = 0.1
    with TestClient(create_app(any_settings)) as client:
        for _ in range(200):
            assert client.post("/tasks", json={"wait_time": 3600}).status_code == 202
        runner = client.app.state.runner
        wait_until(lambda: client.get("/tasks/counts").json()["running"] == 200, 10)
        for x in range(50):
            r = client.get("/predict", params={"x": x})
            assert r.status_code == 200 and r.json()["result"] == x * 42
        assert client.get("/users/Rick").status_code == 200
        assert client.post("/items", json={"name": "busy"}).status_code == 201
        # All of them were still running the whole time: /predict did not wait for any.
        assert len(runner.running) == 200
