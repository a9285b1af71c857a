"""Removing tasks from the store: one finished task (DELETE /tasks/{id}), and finished tasks
past their retention (the pruner), never an unfinished one."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from server.db import SQLiteStore
from server.store import Store, TaskStatus
from tests.postgres import sql_async
from tests.server.test_runner import store_of

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(database):
    store = store_of(database)
    await store.open()
    yield store
    await store.close()


def database_of(store: Store) -> Path | str:
    return store.path if isinstance(store, SQLiteStore) else store.url.secret


async def make(store: Store, status: TaskStatus, finished_at: float | None = None) -> str:
    """A task in `status`; a finished one with its finished_at set to the given time."""
    task_id = str(uuid.uuid4())
    await store.create_task(task_id, "sleep", {"wait_time": 1}, 1000)
    if status is TaskStatus.PENDING:
        return task_id
    [claimed] = await store.claim_tasks("w", 1, task_id)
    assert claimed.status is TaskStatus.RUNNING
    if status is TaskStatus.RUNNING:
        return task_id
    if status is TaskStatus.CANCELLED:
        assert (await store.cancel_task(task_id))[1]
    else:
        assert await store.finish_task(task_id, "w", status, 1.0)
    if finished_at is not None:
        await sql_async(
            database_of(store), "UPDATE tasks SET finished_at = ? WHERE id = ?",
            finished_at, task_id,
        )
    return task_id


async def test_delete_task_removes_a_finished_task_only(store):
    unknown = str(uuid.uuid4())
    assert await store.delete_task(unknown) == (None, False)
    for status in (TaskStatus.PENDING, TaskStatus.RUNNING):
        task_id = await make(store, status)
        task, deleted = await store.delete_task(task_id)
        assert not deleted and task.status is status
        assert (await store.get_task(task_id)).status is status
    for status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED):
        task_id = await make(store, status)
        task, deleted = await store.delete_task(task_id)
        assert deleted and task.id == task_id and task.status is status
        assert await store.get_task(task_id) is None
        assert await store.delete_task(task_id) == (None, False)


async def test_prune_removes_finished_tasks_oldest_first_in_batches_of_the_limit(store):
    now = time.time()
    old = [await make(store, TaskStatus.SUCCEEDED, finished_at=now - 1000 + i) for i in range(5)]
    old.append(await make(store, TaskStatus.CANCELLED, finished_at=now - 900))
    recent = await make(store, TaskStatus.FAILED, finished_at=now - 10)
    unfinished = [await make(store, TaskStatus.PENDING), await make(store, TaskStatus.RUNNING)]

    assert await store.prune_tasks(now - 100, 4) == 4
    left = {t.id for t in await store.list_tasks(None, 100)}
    assert left.isdisjoint(old[:4]) and set(old[4:]) <= left  # the oldest went first
    assert await store.prune_tasks(now - 100, 4) == 2
    assert await store.prune_tasks(now - 100, 4) == 0
    left = {t.id for t in await store.list_tasks(None, 100)}
    assert left == {recent, *unfinished}


async def test_prune_never_removes_an_unfinished_task(store):
    pending = await make(store, TaskStatus.PENDING)
    running = await make(store, TaskStatus.RUNNING)
    # Even with a cutoff in the future and finished_at set on them by a bad write.
    await sql_async(database_of(store), "UPDATE tasks SET finished_at = 1")
    assert await store.prune_tasks(time.time() + 1000, 100) == 0
    assert {t.id for t in await store.list_tasks(None, 100)} == {pending, running}


async def test_the_heartbeat_tells_a_worker_of_its_running_task_deleted_elsewhere(store):
    kept = await make(store, TaskStatus.RUNNING)
    gone = await make(store, TaskStatus.RUNNING)
    await store.cancel_task(gone)
    assert (await store.delete_task(gone))[1]
    assert await store.heartbeat("w", [kept, gone]) == [gone]
