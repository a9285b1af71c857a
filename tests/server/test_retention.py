"""Finished tasks are kept for FPX_TASK_RETENTION, then pruned in the background in small
batches; unfinished tasks never are; 0 keeps them for good (issue 11, item 17)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from server.app import create_app
from server.retention import TaskPruner
from server.settings import Settings
from server.store import TaskStatus
from tests.helpers import wait_until
from tests.postgres import sql, sql_async
from tests.server.test_metrics import samples
from tests.server.test_runner import store_of

DAY = 86400.0


def finished(client: TestClient, task_id: str) -> dict:
    return wait_until(
        lambda: (t := client.get(f"/tasks/{task_id}").json())["status"] == "succeeded" and t,
        10, what=f"task {task_id} to finish",
    )


def age(db, task_id: str, seconds: float) -> None:
    """Make a task look created, and finished if it is, `seconds` ago."""
    then = time.time() - seconds
    sql(
        db, "UPDATE tasks SET created_at = ?, finished_at = CASE WHEN finished_at IS NULL "
        "THEN NULL ELSE ? + 0.0 END WHERE id = ?", then, then, task_id,
    )


def test_finished_tasks_past_the_retention_are_pruned_and_no_others(any_settings, database):
    settings, db_path = any_settings, database
    with TestClient(create_app(settings)) as client:
        old, recent = (client.post("/tasks", json={"wait_time": 0}).json()["id"]
                       for _ in range(2))
        finished(client, old), finished(client, recent)
    age(db_path, old, 2 * DAY)

    settings.task_retention = timedelta(days=1)
    settings.max_running = 1
    with TestClient(create_app(settings)) as client:
        running, pending = (client.post("/tasks", json={"wait_time": 3600}).json()["id"]
                            for _ in range(2))
        age(db_path, running, 2 * DAY)
        age(db_path, pending, 2 * DAY)
        # The first pass runs as the server starts, then one every minute at most.
        wait_until(lambda: client.get(f"/tasks/{old}").status_code == 404, 10,
                   what="the old task to be pruned")
        assert client.get(f"/tasks/{recent}").json()["status"] == "succeeded"
        assert client.get(f"/tasks/{running}").json()["status"] == "running"
        assert client.get(f"/tasks/{pending}").json()["status"] == "pending"
        assert samples(client.get("/metrics").text)[("fpx_tasks_pruned_total", ())] == 1
        for task_id in (pending, running):
            client.post(f"/tasks/{task_id}/cancel")


def test_with_a_tiny_retention_a_task_is_pruned_soon_after_it_finishes(settings):
    # Finished after the start-up pass: a later pass (every retention, at most a minute) takes it.
    settings.task_retention = timedelta(seconds=0.5)
    with TestClient(create_app(settings)) as client:
        done = client.post("/tasks", json={"wait_time": 0}).json()["id"]
        going = client.post("/tasks", json={"wait_time": 3600}).json()["id"]
        wait_until(lambda: client.get(f"/tasks/{done}").status_code == 404, 10,
                   what="the finished task to be pruned")
        assert client.get(f"/tasks/{going}").json()["status"] == "running"
        client.post(f"/tasks/{going}/cancel")
        wait_until(lambda: client.get(f"/tasks/{going}").status_code == 404, 10,
                   what="the cancelled task to be pruned")


def test_a_retention_of_0_keeps_finished_tasks_for_good(settings, db_path, caplog):
    with TestClient(create_app(settings)) as client:
        task_id = client.post("/tasks", json={"wait_time": 0}).json()["id"]
        finished(client, task_id)
    age(db_path, task_id, 3650 * DAY)

    settings.task_retention = timedelta(0)
    caplog.set_level(logging.INFO, "fpx.lifespan")
    app = create_app(settings)
    with TestClient(app) as client:
        assert app.state.pruner is None  # nothing that could remove a task runs
        assert "finished tasks are kept for good (FPX_TASK_RETENTION=0)" in caplog.messages
        assert client.get(f"/tasks/{task_id}").json()["status"] == "succeeded"


@pytest.mark.anyio
async def test_a_pass_removes_a_small_batch_at_a_time_and_lets_other_calls_in(database):
    db_path = database
    store = store_of(database)
    await store.open()
    try:
        for _ in range(1000):
            await store.create_task(str(uuid.uuid4()), "sleep", {"wait_time": 0}, 10_000)
        for task in await store.claim_tasks("w", 1000):
            await store.finish_task(task.id, "w", TaskStatus.SUCCEEDED, 1.0)
        await sql_async(db_path, "UPDATE tasks SET finished_at = finished_at - 2 * 86400")
        batches: list[int] = []
        first = asyncio.Event()

        def pruned(n: int) -> None:
            batches.append(n)
            first.set()

        pruner = TaskPruner(store, DAY, batch=100, on_pruned=pruned)
        pass_ = asyncio.create_task(pruner.prune())
        await first.wait()
        # Another call (a request's, a claim) gets the database between two batches, long
        # before the pass ends.
        counts = await store.count_tasks()
        assert 0 < counts[TaskStatus.SUCCEEDED] < 1000
        assert not pass_.done()
        assert await pass_ == 1000
        assert batches == [100] * 10
        assert await store.list_tasks(None, 10) == []
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0), ("3600", 3600), ("0.5", 0.5), ("7d", 7 * DAY), ("P1DT12H", 1.5 * DAY),
     ("12:00:00", 0.5 * DAY)],
)
def test_the_retention_is_seconds_or_a_duration(monkeypatch, value, seconds):
    monkeypatch.setenv("FPX_TASK_RETENTION", value)
    assert Settings().task_retention.total_seconds() == seconds


def test_the_retention_is_7_days_by_default():
    assert Settings().task_retention == timedelta(days=7)


@pytest.mark.parametrize("value", ["-1", "-1d", "nan", "inf", "1e300", "abc", ""])
def test_a_bad_retention_is_refused(monkeypatch, value):
    monkeypatch.setenv("FPX_TASK_RETENTION", value)
    with pytest.raises(ValidationError, match="task_retention"):
        Settings()
