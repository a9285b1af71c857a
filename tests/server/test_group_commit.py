"""Writes that arrive together commit together, and each still fails or succeeds on its own
(on both backends: SQLite groups creations, claims and finishes; PostgreSQL creations)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from server.lifespan import open_store
from server.store import DuplicateTaskError, QueueFullError, Task, TaskStatus

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(any_settings):
    store = open_store(any_settings)
    await store.open()
    yield store
    await store.close()


async def test_a_duplicate_in_a_group_fails_alone(store):
    taken = str(uuid.uuid4())
    await store.create_task(taken, "sleep", {"wait_time": 0}, 100)
    ids = [taken] + [str(uuid.uuid4()) for _ in range(19)]
    results = await asyncio.gather(
        *(store.create_task(i, "sleep", {"wait_time": 0}, 100) for i in ids), return_exceptions=True
    )
    assert isinstance(results[0], DuplicateTaskError)
    assert [r.id for r in results[1:] if isinstance(r, Task)] == ids[1:]
    assert (await store.count_tasks())[TaskStatus.PENDING] == 20


async def test_the_queue_limit_holds_within_a_group(store):
    results = await asyncio.gather(
        *(store.create_task(str(uuid.uuid4()), "sleep", {}, 5) for _ in range(8)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Task) for r in results) == 5
    assert all(isinstance(r, QueueFullError) for r in results[5:])


async def test_grouped_claims_and_finishes_each_get_their_own_answer(store):
    ids = [(await store.create_task(str(uuid.uuid4()), "sleep", {}, 100)).id for _ in range(10)]
    claims = await asyncio.gather(*(store.claim_tasks("w", 1, i) for i in ids + ids[:1]))
    assert [c[0].id for c in claims[:10]] == ids
    assert claims[10] == []  # already running: claimed once only
    finished = await asyncio.gather(
        *(store.finish_task(i, "w", TaskStatus.SUCCEEDED, 1.0, result="ok") for i in ids),
        store.finish_task(ids[0], "other", TaskStatus.FAILED, 0.0, error="not mine"),
    )
    assert finished == [True] * 10 + [False]
    assert (await store.count_tasks())[TaskStatus.SUCCEEDED] == 10


async def test_a_cancelled_caller_does_not_strand_the_others(store):
    calls = [
        asyncio.ensure_future(store.create_task(str(uuid.uuid4()), "sleep", {}, 100))
        for _ in range(5)
    ]
    await asyncio.sleep(0)
    calls[2].cancel()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    assert all(isinstance(r, Task) for i, r in enumerate(results) if i != 2)


async def test_the_same_id_twice_in_a_group_is_created_once(store):
    task_id = str(uuid.uuid4())
    results = await asyncio.gather(
        *(store.create_task(task_id, "sleep", {"wait_time": 0}, 100) for _ in range(3)),
        return_exceptions=True,
    )
    assert isinstance(results[0], Task) and results[0].id == task_id
    assert all(isinstance(r, DuplicateTaskError) for r in results[1:])
    assert (await store.count_tasks())[TaskStatus.PENDING] == 1


async def test_a_group_counts_the_tasks_already_queued(store):
    for _ in range(3):
        await store.create_task(str(uuid.uuid4()), "sleep", {}, 100)
    results = await asyncio.gather(
        *(store.create_task(str(uuid.uuid4()), "sleep", {}, 5) for _ in range(4)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Task) for r in results) == 2
    assert [r.unfinished for r in results if isinstance(r, QueueFullError)] == [5, 5]
