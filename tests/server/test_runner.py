"""The task state machine, tested on the runner and the stores themselves: each test that
takes `database` runs on SQLite and on PostgreSQL; those on `db_path` test SQLite's own ways
(a dead local pid, a lock held past the busy timeout)."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from server.db import SQLiteStore
from server.jobs import JobContext, JobRegistry
from server.lifespan import open_store
from server.store import Store, StoreUnavailable, Task, TaskStatus
from server.tasks import INTERRUPTED_BY_STOP, TaskRunner
from tests import postgres
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio


async def until(probe, timeout: float = 5.0, what: str = ""):
    """Await `probe()` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")
        await asyncio.sleep(0.01)


class Gate:
    """A job that runs until the test releases it (or fails it)."""

    def __init__(self) -> None:
        self.started: dict[str, asyncio.Event] = {}
        self.release: dict[str, asyncio.Event] = {}
        self.fail: set[str] = set()
        self.runs: list[str] = []

    async def job(self, ctx: JobContext) -> str:
        self.runs.append(ctx.task_id)
        self.started.setdefault(ctx.task_id, asyncio.Event()).set()
        await self.release.setdefault(ctx.task_id, asyncio.Event()).wait()
        if ctx.task_id in self.fail:
            raise ValueError("the model exploded")
        return f"done {ctx.task_id}"

    def open(self, task_id: str) -> None:
        self.release.setdefault(task_id, asyncio.Event()).set()


@asynccontextmanager
async def running(
    db: Path | str, gate: Gate | None = None, *, stop: bool = True, busy_timeout: float = 0.5,
    wrap: Callable[[Store], Store] | None = None, **options
) -> AsyncIterator[TaskRunner]:
    store = store_of(db, busy_timeout)
    if wrap is not None:
        store = wrap(store)
    await store.open()
    params = {"max_running": 10, "heartbeat_interval": 0.05, "lease_timeout": 60.0,
              "shutdown_timeout": 0.2}
    runner = TaskRunner(store, jobs_with(gate), **(params | options))
    await runner.start()
    try:
        yield runner
    finally:
        if stop:
            await runner.stop()
        await store.close()


def store_of(db: Path | str, busy_timeout: float = 0.5) -> Store:
    """The store of either backend, as the lifespan opens it."""
    return open_store(make_settings(db).model_copy(update={"db_busy_timeout": busy_timeout}))


sql = postgres.sql_async


def jobs_with(gate: Gate | None) -> JobRegistry:
    jobs = JobRegistry.with_builtins()
    if gate is not None:
        jobs.add("gate", gate.job)
    return jobs


async def submit(runner: TaskRunner, wait_time: int | None = None) -> str:
    """A gate task on a runner with a gate, else a sleep of `wait_time` (0 if None)."""
    if wait_time is None and "gate" in runner.jobs:
        job, args = "gate", {}
    else:
        job, args = "sleep", {"wait_time": wait_time or 0}
    task = await runner.store.create_task(str(uuid.uuid4()), job, args, 10_000)
    assert task.status is TaskStatus.PENDING
    await runner.submit(task)
    return task.id


async def status(runner: TaskRunner, task_id: str) -> TaskStatus:
    task = await runner.store.get_task(task_id)
    assert task is not None
    return task.status


async def test_pending_running_succeeded(database):
    gate = Gate()
    async with running(database, gate) as runner:
        task_id = await submit(runner)
        await until(lambda: _true(gate.started.get(task_id)))
        assert await status(runner, task_id) is TaskStatus.RUNNING
        gate.open(task_id)
        await until(lambda: _is(runner, task_id, TaskStatus.SUCCEEDED))
        task = await runner.store.get_task(task_id)
        assert task.result == f"done {task_id}" and task.progress == 1.0
        assert task.worker == runner.worker_id and task.attempts == 1


async def test_a_job_that_raises_ends_failed_with_the_error(database):
    gate = Gate()
    async with running(database, gate) as runner:
        task_id = await submit(runner)
        gate.fail.add(task_id)
        gate.open(task_id)
        await until(lambda: _is(runner, task_id, TaskStatus.FAILED))
        task = await runner.store.get_task(task_id)
        assert task.error == "ValueError: the model exploded"
        assert task.result is None


async def test_cancel_stops_the_job_and_it_stays_cancelled(database):
    gate = Gate()
    async with running(database, gate) as runner:
        task_id = await submit(runner)
        await until(lambda: _true(gate.started.get(task_id)))
        task, cancelled = await runner.store.cancel_task(task_id)
        assert cancelled and task.status is TaskStatus.CANCELLED
        # What the API does next; on PostgreSQL the cancel's notification may be first.
        runner.cancel_local(task_id)
        await until(lambda: _true(task_id not in runner.running))
        assert await status(runner, task_id) is TaskStatus.CANCELLED
        # A finished task cannot be cancelled again.
        task, cancelled = await runner.store.cancel_task(task_id)
        assert not cancelled and task.status is TaskStatus.CANCELLED


async def test_cancel_pending_task_never_runs(database):
    gate = Gate()
    async with running(database, gate, max_running=1) as runner:
        first = await submit(runner)
        second = await submit(runner)
        assert await status(runner, second) is TaskStatus.PENDING
        await runner.store.cancel_task(second)
        gate.open(first)
        await until(lambda: _is(runner, first, TaskStatus.SUCCEEDED))
        await until(lambda: _true(not runner.running))
        assert second not in gate.runs
        assert await status(runner, second) is TaskStatus.CANCELLED


async def test_running_is_bounded_by_max_running(database):
    gate = Gate()
    async with running(database, gate, max_running=2) as runner:
        ids = [await submit(runner) for _ in range(5)]
        await until(lambda: _true(len(gate.runs) == 2))
        counts = await runner.store.count_tasks()
        assert counts[TaskStatus.RUNNING] == 2 and counts[TaskStatus.PENDING] == 3
        for task_id in ids:  # release all; the rest are claimed as slots free up
            gate.open(task_id)
        await until(lambda: _count(runner, TaskStatus.SUCCEEDED, 5), what="all five done")
        assert sorted(gate.runs) == sorted(ids)  # each ran exactly once


async def test_the_end_of_a_job_sends_no_claim_when_nothing_is_pending(database):
    gate = Gate()
    # A heartbeat far off: only the runner's own reasons to claim count here.
    async with running(database, gate, max_running=1, heartbeat_interval=60.0) as runner:
        claims: list[str | None] = []
        claim_tasks = runner.store.claim_tasks

        async def counted(worker, limit, task_id=None, jobs=None):
            claims.append(task_id)
            return await claim_tasks(worker, limit, task_id, jobs)

        runner.store.claim_tasks = counted
        for _ in range(3):
            task_id = await submit(runner)
            await until(lambda t=task_id: _true(gate.started.get(t)))
            gate.open(task_id)
            await until(lambda t=task_id: _is(runner, t, TaskStatus.SUCCEEDED))
        # One full slot: the next submission stays pending, and the end of the job running
        # claims it.
        running_id, waiting_id = await submit(runner), await submit(runner)
        await until(lambda: _true(gate.started.get(running_id)))
        gate.open(running_id)
        await until(lambda: _true(gate.started.get(waiting_id)), what="the pending one to start")
        gate.open(waiting_id)
        await until(lambda: _is(runner, waiting_id, TaskStatus.SUCCEEDED))
    # Each submission with a free slot claimed its own task, and the ends of the first three
    # claimed nothing; after the pending one was submitted, the next end claimed it, and the
    # end after that looked once more and found the queue empty.
    assert [c for c in claims if c is None] == [None, None]


async def test_a_drained_worker_still_runs_a_task_another_worker_created(database):
    gate = Gate()
    async with running(database, gate) as runner:
        task_id = await submit(runner)
        gate.open(task_id)
        await until(lambda: _is(runner, task_id, TaskStatus.SUCCEEDED))
        # Created through another store, as another worker process or host would: on SQLite
        # nobody is told (the heartbeat's poll finds it), on PostgreSQL the NOTIFY tells.
        other = store_of(database)
        await other.open()
        try:
            created = await other.create_task(str(uuid.uuid4()), "gate", {}, 100)
        finally:
            await other.close()
        await until(lambda: _true(gate.started.get(created.id)), what="the runner to take it")
        gate.open(created.id)
        await until(lambda: _is(runner, created.id, TaskStatus.SUCCEEDED))


async def test_the_sleep_job_reports_progress_while_running(database):
    async with running(database) as runner:
        task_id = await submit(runner, wait_time=20)
        task = await until(lambda: _running_with_progress(runner, task_id))
        assert 0 < task.progress < 1


async def test_stop_is_bounded_and_interrupts_running_but_keeps_pending(database):
    async with running(database, max_running=1, shutdown_timeout=0.2, stop=False) as runner:
        run_id = await submit(runner, wait_time=3600)
        pending_id = await submit(runner, wait_time=3600)
        await until(lambda: _is(runner, run_id, TaskStatus.RUNNING))
        started = time.monotonic()
        await runner.stop()
        assert time.monotonic() - started < 10  # not the hour the job wanted
        task = await runner.store.get_task(run_id)
        assert task.status is TaskStatus.INTERRUPTED and task.error == INTERRUPTED_BY_STOP
        assert await status(runner, pending_id) is TaskStatus.PENDING


async def test_a_cancel_through_another_worker_stops_the_job_within_a_second(database):
    async with running(database, Gate()) as a, running(database, Gate()) as b:
        task_id = await submit(a)
        # Whichever runs it (on PostgreSQL an idle b is told of the task, and may be first).
        owner = await until(lambda: _runs(task_id, a, b), what="a worker to run it")
        other = b if owner is a else a
        _, cancelled = await other.store.cancel_task(task_id)
        assert cancelled
        assert not other.cancel_local(task_id)  # it does not run it: the owner must notice
        await until(lambda: _true(task_id not in owner.running), timeout=1.5,
                    what="the owner to stop it")
        assert await status(owner, task_id) is TaskStatus.CANCELLED


async def _runs(task_id: str, *runners: TaskRunner) -> TaskRunner | None:
    return next((r for r in runners if task_id in r.running), None)


async def test_a_starting_worker_leaves_a_live_workers_tasks_alone(database):
    gate = Gate()
    async with running(database, gate) as a:
        task_id = await submit(a)
        await until(lambda: _true(task_id in a.running))
        async with running(database, Gate(), lease_timeout=0.5) as b:
            # b recovered once at start-up; a recovery pass of its own must not touch it either.
            recovery = await b.store.recover(b.worker_id, b.lease_timeout)
            assert recovery.interrupted == [] and recovery.dead_workers == []
            assert await status(b, task_id) is TaskStatus.RUNNING
        gate.open(task_id)
        await until(lambda: _is(a, task_id, TaskStatus.SUCCEEDED))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


async def _leave_behind(
    db: Path | str, worker_pid: int, heartbeat_age: float
) -> tuple[str, str]:
    """Write what a worker that died leaves in the database: one running, one pending task."""
    running_id, pending_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = time.time()
    await sql(
        db, "INSERT INTO workers (id, pid, host, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)",
        "dead-worker", worker_pid, socket.gethostname(), now - 100, now - heartbeat_age,
    )
    await sql(
        db,
        "INSERT INTO tasks (id, status, job, args, created_at, started_at, worker, attempts,"
        " progress) VALUES (?, 'running', 'sleep', '{\"wait_time\": 10}', ?, ?,"
        " 'dead-worker', 1, 0.5)",
        running_id, now - 5, now - 5,
    )
    await sql(
        db,
        "INSERT INTO tasks (id, status, job, args, created_at)"
        " VALUES (?, 'pending', 'sleep', '{\"wait_time\": 0}', ?)",
        pending_id, now - 4,
    )
    return running_id, pending_id


async def _create_schema(db: Path | str) -> None:
    store = store_of(db)
    await store.open()
    await store.close()


async def test_a_worker_whose_lease_ran_out_is_taken_over(database):
    await _create_schema(database)
    # pid 1 is alive, so only the lease can tell this worker is dead.
    running_id, pending_id = await _leave_behind(database, worker_pid=1, heartbeat_age=0.0)
    async with running(database, lease_timeout=0.5) as live:
        # The pending task is taken over at once; the running one once the lease runs out.
        await until(lambda: _is(live, pending_id, TaskStatus.SUCCEEDED), what="pending taken over")
        task = await until(lambda: _task_if(live, running_id, TaskStatus.INTERRUPTED), 5)
        assert "dead-worker" in task.error and "stopped before it finished" in task.error
        assert task.progress == 0.5  # where its job last reported it


async def test_a_dead_local_process_is_noticed_at_once(db_path):
    await _create_schema(db_path)
    running_id, pending_id = await _leave_behind(db_path, worker_pid=_dead_pid(), heartbeat_age=0.0)
    async with running(db_path, lease_timeout=3600) as runner:
        # Straight after start-up, without waiting for any lease.
        assert await status(runner, running_id) is TaskStatus.INTERRUPTED
        await until(lambda: _is(runner, pending_id, TaskStatus.SUCCEEDED))


# -- small probes --------------------------------------------------------------------------------


async def _true(value) -> bool:
    if isinstance(value, asyncio.Event):
        return value.is_set()
    return bool(value)


async def _is(runner: TaskRunner, task_id: str, expected: TaskStatus) -> bool:
    return await status(runner, task_id) is expected


async def _task_if(runner: TaskRunner, task_id: str, expected: TaskStatus) -> Task | None:
    task = await runner.store.get_task(task_id)
    return task if task is not None and task.status is expected else None


async def _count(runner: TaskRunner, expected: TaskStatus, n: int) -> bool:
    return (await runner.store.count_tasks())[expected] == n


async def _running_with_progress(runner: TaskRunner, task_id: str) -> Task | None:
    task = await runner.store.get_task(task_id)
    if task and task.status is TaskStatus.RUNNING and task.progress > 0:
        return task
    return None


async def test_a_task_cancelled_straight_after_its_claim_frees_its_slot(db_path):
    # SQLite only: on PostgreSQL the task's notification may have the runner claim it in the
    # background, where this test needs the claim done when submit returns.
    gate = Gate()
    async with running(db_path, gate, max_running=1) as runner:
        task_id = await submit(runner)
        # Cancelled before its job ever ran a line (no await in between), so nothing of the
        # job's own code can clean up.
        assert runner.cancel_local(task_id)
        await runner.store.cancel_task(task_id)
        await until(lambda: _true(not runner.running), what="the slot to be freed")
        assert task_id not in gate.runs
        # The one slot is free again for the next task.
        next_id = await submit(runner)
        await until(lambda: _true(gate.started.get(next_id)))
        gate.open(next_id)
        await until(lambda: _is(runner, next_id, TaskStatus.SUCCEEDED))


async def test_a_worker_held_up_by_a_lock_is_not_taken_for_dead(db_path):
    await _create_schema(db_path)
    # Silent for longer than its lease, but not longer than a lock could have held it up.
    running_id, _ = await _leave_behind(db_path, worker_pid=1, heartbeat_age=3.0)
    async with running(db_path, lease_timeout=1.0, busy_timeout=10.0) as runner:
        recovery = await runner.store.recover(runner.worker_id, runner.lease_timeout)
        assert recovery.interrupted == [] and recovery.dead_workers == []
        assert await status(runner, running_id) is TaskStatus.RUNNING


class FlakyStore(SQLiteStore):
    """Refuses the first `failures` writes of a job's end, as a long-locked database does."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path, busy_timeout=0.5)
        self.failures = failures

    async def finish_task(self, *args, **kwargs) -> bool:
        if self.failures > 0:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        return await super().finish_task(*args, **kwargs)


async def test_a_failed_write_of_the_outcome_is_retried_not_left_running(db_path):
    store = FlakyStore(db_path, failures=3)
    await store.open()
    runner = TaskRunner(store, JobRegistry.with_builtins(), max_running=2,
                        heartbeat_interval=0.05, lease_timeout=60, shutdown_timeout=0.2)
    await runner.start()
    try:
        task_id = await submit(runner)
        await until(lambda: _is(runner, task_id, TaskStatus.SUCCEEDED), 10, what="the retry")
        assert store.failures == 0 and not runner.running
    finally:
        await runner.stop()
        await store.close()


class CountingStore(SQLiteStore):
    """Counts the progress writes, to see that a tight loop of reports does not flood them."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, busy_timeout=0.5)
        self.progress_writes = 0

    async def record_progress(self, worker, updates) -> None:
        self.progress_writes += 1
        await super().record_progress(worker, updates)


async def chatty(ctx: JobContext, reports: int) -> int:
    """Report progress `reports` times, yielding now and then."""
    for i in range(1, reports + 1):
        ctx.progress(i / reports, f"report {i}")
        if i % 1000 == 0:
            await asyncio.sleep(0.001)
    return reports


async def test_progress_is_written_at_most_every_half_second_and_at_the_end(db_path):
    store = CountingStore(db_path)
    await store.open()
    jobs = JobRegistry.with_builtins()
    jobs.add("chatty", chatty)
    runner = TaskRunner(store, jobs, max_running=2, heartbeat_interval=0.05, lease_timeout=60,
                        shutdown_timeout=0.2)
    await runner.start()
    started = time.monotonic()
    try:
        task = await store.create_task(str(uuid.uuid4()), "chatty", {"reports": 200_000}, 10)
        await runner.submit(task)
        done = await until(lambda: _task_if(runner, task.id, TaskStatus.SUCCEEDED), 60)
        elapsed = time.monotonic() - started
        assert done.result == 200_000 and done.message == "report 200000"
        # 200,000 reports; one write per half second at most (the end is finish_task's).
        assert store.progress_writes <= elapsed / 0.5 + 1
    finally:
        await runner.stop()
        await store.close()


async def test_a_task_interrupted_elsewhere_is_logged_as_interrupted(database, caplog):
    # What a worker paused (SIGSTOP) past its lease finds when it resumes: another worker
    # took it for dead and ended its task interrupted.
    caplog.set_level(logging.INFO, logger="fpx.tasks")
    error = "interrupted: the worker running it (w) stopped before it finished"
    async with running(database, Gate()) as a:
        task_id = await submit(a)
        await until(lambda: _true(task_id in a.running))
        await sql(
            database, "UPDATE tasks SET status = 'interrupted', error = ? WHERE id = ?",
            error, task_id,
        )
        await until(lambda: _true(task_id not in a.running), timeout=2, what="a to stop it")
        assert await status(a, task_id) is TaskStatus.INTERRUPTED
    messages = [r.getMessage() for r in caplog.records if task_id in r.getMessage()]
    assert f"task {task_id} is interrupted ({error}); its job is stopped" in messages, messages
    assert not any("cancelled" in m for m in messages), messages


class Wrapped:
    """A store that does what the one it wraps does, but for what a subclass overrides."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __getattr__(self, name: str):
        return getattr(self.store, name)


class SlowReads(Wrapped):
    """Each read of a task waits `delay` first, as on a host whose requests hold every pooled
    connection under load. (A sleep stands for the slow database; nothing waits on a task.)"""

    delay = 0.0

    async def get_task(self, task_id: str) -> Task | None:
        await asyncio.sleep(self.delay)
        return await self.store.get_task(task_id)


async def test_slow_reads_under_load_never_hold_up_the_lease(database, caplog):
    # Issue 12's 2-hosts bench: a loaded host looked up, one slow read at a time, each task its
    # heartbeat found ended elsewhere, and renewed its lease only after; another host took it
    # for dead meanwhile and interrupted the tasks it was running.
    caplog.set_level(logging.INFO, logger="fpx.tasks")
    gate = Gate()
    async with running(database, gate, lease_timeout=1.0, wrap=SlowReads) as a:
        keeper = await submit(a)
        lost = [await submit(a) for _ in range(6)]
        await until(lambda: _true(all(t in a.running for t in [keeper, *lost])))
        async with running(database, Gate(), lease_timeout=1.0) as b:
            a.store.delay = 0.5  # 6 reads: 3 s, past the lease (and SQLite's lease + busy)
            for task_id in lost:
                await sql(database, "UPDATE tasks SET status = 'interrupted', error = 'test' "
                          "WHERE id = ?", task_id)

            def logged() -> set[str]:
                return {t for t in lost for r in caplog.records
                        if r.getMessage().startswith(f"task {t} is interrupted")}

            await until(lambda: _true(logged() == set(lost)), timeout=15,
                        what="a to look up every task it lost")
            recovery = await b.store.recover(b.worker_id, b.lease_timeout)
            assert a.worker_id not in recovery.dead_workers
            a.store.delay = 0.0
            assert await status(a, keeper) is TaskStatus.RUNNING, "a was taken for dead"
            assert keeper in a.running
        gate.open(keeper)
        await until(lambda: _is(a, keeper, TaskStatus.SUCCEEDED))


class HeldEnds(Wrapped):
    """Holds each job's recorded end back until a heartbeat has answered that the task no
    longer runs: the beat took its list of running tasks before the end was recorded, and asked
    the database after."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.held: dict[str, asyncio.Event] = {}

    async def finish_task(self, task_id: str, *args, **kwargs) -> bool:
        recorded = await self.store.finish_task(task_id, *args, **kwargs)
        await self.held.setdefault(task_id, asyncio.Event()).wait()
        return recorded

    async def heartbeat(self, worker: str, running: list[str]) -> list[str]:
        lost = await self.store.heartbeat(worker, running)
        for task_id in lost:
            if task_id in self.held:
                self.held[task_id].set()
        return lost


async def test_a_task_that_just_ended_here_is_not_taken_for_ended_elsewhere(database, caplog):
    caplog.set_level(logging.INFO, logger="fpx.tasks")
    finished: list[tuple[str, TaskStatus]] = []
    async with running(database, wrap=HeldEnds,
                       on_finished=lambda job, st, _: finished.append((job, st))) as runner:
        task_id = await submit(runner, wait_time=0)
        await until(lambda: _true(runner.store.held.get(task_id, asyncio.Event()).is_set()),
                    what="a heartbeat to answer that the task no longer runs")
        await until(lambda: _true(task_id not in runner.running))
        task = await runner.store.get_task(task_id)
        assert task.status is TaskStatus.SUCCEEDED and task.error is None
    assert finished == [("sleep", TaskStatus.SUCCEEDED)]  # its end counted, not cut short
    assert not [r.getMessage() for r in caplog.records if task_id in r.getMessage()]


class TimedBeats(Wrapped):
    """Notes when each renewal of the lease was answered."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.renewed_at = 0.0

    async def heartbeat(self, worker: str, running: list[str]) -> list[str]:
        lost = await self.store.heartbeat(worker, running)
        self.renewed_at = time.monotonic()
        return lost


async def test_a_stopping_worker_keeps_its_lease_while_its_jobs_finish(database):
    gate = Gate()
    async with running(database, gate, stop=False, lease_timeout=0.5, shutdown_timeout=30,
                       wrap=TimedBeats) as a:
        task_id = await submit(a)
        await until(lambda: _true(task_id in a.running))
        async with running(database, Gate(), lease_timeout=0.5) as b:
            stopping = asyncio.create_task(a.stop())
            since = time.monotonic()
            # Renewed after more than a lease (and SQLite's lease + busy timeout) of waiting.
            await until(lambda: _true(a.store.renewed_at > since + 1.5), timeout=10,
                        what="a renewal of the lease during the stop")
            recovery = await b.store.recover(b.worker_id, b.lease_timeout)
            assert recovery.interrupted == [] and recovery.dead_workers == []
            assert await status(a, task_id) is TaskStatus.RUNNING
            gate.open(task_id)
            await stopping
        assert await status(a, task_id) is TaskStatus.SUCCEEDED


class ClaimsRefusedOnce(Wrapped):
    """Refuses the first claim of a task by its id (submit's), as a database that went away
    just after the task's insert."""

    refused = 0

    async def claim_tasks(self, worker, limit, task_id=None, jobs=None) -> list[Task]:
        if task_id is not None and not self.refused:
            self.refused += 1
            raise StoreUnavailable("connection lost")
        return await self.store.claim_tasks(worker, limit, task_id, jobs)


async def test_a_claim_refused_after_the_202_leaves_the_task_pending_for_later(database, caplog):
    # POST /tasks runs submit() as a background task, after its 202: a database gone then must
    # not escape as an ASGI crash; the task stays pending and runs once claims work again.
    caplog.set_level(logging.WARNING, logger="fpx.tasks")
    async with running(database, wrap=ClaimsRefusedOnce) as runner:
        task_id = await submit(runner, wait_time=0)
        assert runner.store.refused == 1
        await until(lambda: _is(runner, task_id, TaskStatus.SUCCEEDED), 10, what="the later claim")
    assert f"could not start task {task_id} now" in caplog.text
