"""The task runner: bounded execution of background jobs, leases, cancels, recovery.

Jobs run as asyncio tasks owned by the runner, at most `max_running` at once per worker process,
apart from the request threadpool: a sleeping job costs a timer, not a thread. Every state change
goes through the Store, so all workers on one database see the same tasks; a maintenance loop
renews this worker's lease, stops jobs cancelled through another worker, ends the tasks of dead
workers and claims pending work. No FastAPI imports here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

from server.store import Store, StoreUnavailable, Task, TaskStatus

log = logging.getLogger("fpx.tasks")

Job = Callable[[Task], Awaitable[str]]

INTERRUPTED_BY_STOP = "interrupted: the server stopped while it ran"
# Seconds between attempts to record a job's end while the store refuses, doubling up to max.
RECORD_RETRY_FIRST = 0.1
RECORD_RETRY_MAX = 5.0


async def sleep_job(task: Task) -> str:
    """The demo job: wait `wait_time` seconds without holding a thread."""
    await asyncio.sleep(task.wait_time)
    return f"task done after {task.wait_time}"


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class TaskRunner:
    def __init__(
        self,
        store: Store,
        *,
        max_running: int,
        heartbeat_interval: float,
        lease_timeout: float,
        shutdown_timeout: float,
        job: Job = sleep_job,
    ) -> None:
        self.store = store
        self.max_running = max_running
        self.heartbeat_interval = heartbeat_interval
        self.lease_timeout = lease_timeout
        self.shutdown_timeout = shutdown_timeout
        self.job = job
        self.worker_id = new_worker_id()
        # Each running task, as claimed, and the asyncio task running its job.
        self._jobs: dict[str, tuple[Task, asyncio.Task[None]]] = {}
        self._claiming = 0  # slots held by claims still waiting for the store
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def running(self) -> list[str]:
        return list(self._jobs)

    async def start(self) -> None:
        """Register this worker, end what dead workers left running, pick up pending work."""
        await self.store.heartbeat(self.worker_id, [])
        await self._recover()
        self._loop = asyncio.create_task(self._maintain(), name="fpx-task-runner")
        await self._fill()
        log.info("task runner %s started (max %d running)", self.worker_id, self.max_running)

    async def submit(self, task_id: str) -> None:
        """Start a newly created task now if there is room; otherwise it waits, pending, for a
        free slot on any worker. Called as the request's background task."""
        if self._stopping:
            return
        if self._free_slots() < 1:
            self._wake.set()
            return
        await self._claim(1, task_id)

    def cancel_local(self, task_id: str) -> bool:
        """Stop a job of this worker whose task was just cancelled in the store."""
        entry = self._jobs.get(task_id)
        if entry is None:
            return False
        entry[1].cancel()
        return True

    async def stop(self) -> None:
        """Stop claiming; give running jobs up to `shutdown_timeout` to finish, then interrupt
        them. Pending tasks stay pending for the next start."""
        self._stopping = True
        if self._loop is not None:
            # Let the loop finish its pass rather than cancel it: a claim cancelled half-way
            # would leave tasks running in the store with no job behind them.
            self._wake.set()
            await self._loop
        entries = list(self._jobs.values())
        if entries:
            log.info(
                "waiting up to %.1fs for %d running tasks", self.shutdown_timeout, len(entries)
            )
            _, late = await asyncio.wait([job for _, job in entries], timeout=self.shutdown_timeout)
            for job in late:
                job.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
                await self._interrupt([task for task, job in entries if job in late])
        try:
            await self.store.remove_worker(self.worker_id)
        except Exception:
            log.exception("could not remove worker %s from the store", self.worker_id)

    async def _interrupt(self, tasks: list[Task]) -> None:
        """Record tasks whose jobs a stop cut short (a no-op for one cancelled meanwhile)."""
        now = time.time()
        interrupted = 0
        try:
            for task in tasks:
                interrupted += await self.store.finish_task(
                    task.id, self.worker_id, TaskStatus.INTERRUPTED, task.progress_at(now),
                    error=INTERRUPTED_BY_STOP,
                )
        except Exception:
            # The stop goes on: the next worker to start finds this one gone and marks them.
            log.exception("could not record %d interrupted tasks", len(tasks))
        else:
            # Only those still this worker's: one cancelled or interrupted elsewhere meanwhile
            # keeps the outcome it has.
            log.info("interrupted %d running tasks", interrupted)

    # -- internals ----------------------------------------------------------------------------

    def _launch(self, task: Task) -> None:
        job = asyncio.create_task(self._execute(task), name=f"fpx-task-{task.id}")
        self._jobs[task.id] = (task, job)
        # A callback, not a `finally` in _execute: a job cancelled before it ever ran (cancelled
        # straight after its claim) runs no code of its own, and would hold its slot for good.
        job.add_done_callback(lambda _: self._forget(task.id))

    def _forget(self, task_id: str) -> None:
        del self._jobs[task_id]
        self._wake.set()

    async def _execute(self, task: Task) -> None:
        # Cancelled (by the user, by a worker that took this one for dead, or by a stop), the
        # job just ends: the store already holds the outcome, or stop() records it.
        log.debug("task %s started (wait_time %d)", task.id, task.wait_time)
        try:
            result = await self.job(task)
        except Exception as exc:
            log.exception("task %s failed", task.id)
            await self._record(
                task, TaskStatus.FAILED, task.progress_at(time.time()),
                error=f"{type(exc).__name__}: {exc}",
            )
        else:
            if await self._record(task, TaskStatus.SUCCEEDED, 1.0, result=result):
                log.debug("task %s succeeded", task.id)
            else:
                await self._log_ended_elsewhere(task.id, "its result is dropped")

    async def _log_ended_elsewhere(self, task_id: str, consequence: str) -> None:
        """Log what the store says became of a task this worker ran: cancelled through another
        worker, or interrupted by one that took this worker for dead (a pause past its lease)."""
        task = await self.store.get_task(task_id)
        if task is None:
            what = "no longer exists"
        else:
            what = f"ended elsewhere ({task.error or task.status.value})"
        log.info("task %s %s; %s", task_id, what, consequence)

    async def _record(
        self,
        task: Task,
        status: TaskStatus,
        progress: float,
        result: str | None = None,
        error: str | None = None,
    ) -> bool:
        """Write how a job ended, retrying while the store refuses (a database locked past
        its busy timeout, a full disk): one failed write must not leave a task running for
        good. The job keeps its slot meanwhile; a stop cancels the retries and records the
        task interrupted."""
        delay = RECORD_RETRY_FIRST
        while True:
            try:
                return await self.store.finish_task(
                    task.id, self.worker_id, status, progress, result=result, error=error
                )
            except Exception:
                log.exception(
                    "could not record that task %s %s; retrying in %.1fs", task.id, status, delay
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECORD_RETRY_MAX)

    async def _fill(self) -> None:
        if not self._stopping:
            await self._claim(self._free_slots())

    def _free_slots(self) -> int:
        return self.max_running - len(self._jobs) - self._claiming

    async def _claim(self, limit: int, task_id: str | None = None) -> None:
        if limit <= 0:
            return
        # Hold the slots while the claim is in flight, so concurrent claims never exceed
        # max_running between them.
        self._claiming += limit
        try:
            tasks = await self.store.claim_tasks(self.worker_id, limit, task_id)
        finally:
            self._claiming -= limit
        for task in tasks:
            self._launch(task)

    async def _recover(self) -> None:
        recovery = await self.store.recover(self.worker_id, self.lease_timeout)
        if recovery.interrupted or recovery.dead_workers:
            log.warning(
                "recovered after dead workers %s: %d running tasks marked interrupted",
                ", ".join(recovery.dead_workers) or "(none)",
                len(recovery.interrupted),
            )

    async def _maintain(self) -> None:
        next_beat = time.monotonic() + self.heartbeat_interval
        beats = 0
        while not self._stopping:
            timeout = max(0.0, next_beat - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            try:
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + self.heartbeat_interval
                    beats += 1
                    for task_id in await self.store.heartbeat(self.worker_id, self.running):
                        await self._log_ended_elsewhere(task_id, "stopping its job")
                        self.cancel_local(task_id)
                    # Dead workers are rare: look for them every few beats, not every one.
                    if beats % 4 == 0:
                        await self._recover()
                await self._fill()
            except StoreUnavailable as exc:
                # A locked or failing database must not end the runner: log and go on.
                log.warning("task runner maintenance failed (%s); retrying", exc)
            except Exception:
                log.exception("task runner maintenance failed; retrying")
