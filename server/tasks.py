"""The task runner: bounded execution of jobs, leases, cancels, recovery.

Each running task is an asyncio task owned by the runner, at most `max_running` at once per
worker process. What it awaits depends on the job (server/jobs.py): an async job runs right
there on the event loop, a thread job in the runner's own threads, a process job in one of the
job processes (server/jobpool.py); a process job is claimed only when a process is free. Every
state change goes through the Store, so all workers on one database see the same tasks. A
heartbeat loop renews this worker's lease and stops the jobs of tasks that ended elsewhere
(cancelled through another worker, say); it awaits nothing else, so that no slow work of this
worker can let its lease lapse. A maintenance loop ends the tasks of dead workers and claims
pending work. No FastAPI imports here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from server import logs
from server.jobpool import JobFailed, JobProcess, ProcessPool
from server.jobs import JobContext, JobKind, JobRegistry, JobSpec
from server.logs import count
from server.store import Store, StoreUnavailable, Task, TaskStatus

if TYPE_CHECKING:
    from server.registry import ModelRegistry

log = logging.getLogger("fpx.tasks")

INTERRUPTED_BY_STOP = "interrupted: the server stopped while it ran"
# Seconds between attempts to record a job's end while the store refuses, doubling up to max.
RECORD_RETRY_FIRST = 0.1
RECORD_RETRY_MAX = 5.0
# Progress reported by jobs is written to the store at most this often (and at their end).
PROGRESS_WRITE_INTERVAL = 0.5


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def time_limit_exceeded(limit: float) -> str:
    return f"time limit of {limit:g} s exceeded"


class TaskRunner:
    def __init__(
        self,
        store: Store,
        jobs: JobRegistry,
        *,
        max_running: int,
        heartbeat_interval: float,
        lease_timeout: float,
        shutdown_timeout: float,
        models: ModelRegistry | None = None,
        job_processes: int = 1,
        cancel_grace: float = 2.0,
        on_finished: Callable[[str, TaskStatus, float], None] | None = None,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.models = models
        self.max_running = max_running
        self.heartbeat_interval = heartbeat_interval
        self.lease_timeout = lease_timeout
        self.shutdown_timeout = shutdown_timeout
        self.cancel_grace = cancel_grace
        # Told (job, status, seconds it ran) of each job this worker ran to its end.
        self.on_finished = on_finished
        self.worker_id = new_worker_id()
        self._process_jobs = jobs.kinds(JobKind.PROCESS)
        self._server_jobs = [name for name in jobs.names() if name not in self._process_jobs]
        # Job processes only when some job needs them.
        self.pool = ProcessPool(job_processes, self._wake_up) if self._process_jobs else None
        # Each running task, as claimed, and the asyncio task running its job.
        self._jobs: dict[str, tuple[Task, asyncio.Task[None]]] = {}
        self._claiming = 0  # slots held by claims still waiting for the store
        self._claiming_processes = 0  # job processes held by those claims
        # What each running job last reported, and which of those the store has yet to see.
        self._reported: dict[str, tuple[float, str | None]] = {}
        self._unwritten: set[str] = set()
        # Tasks whose jobs ended here and whose end is being recorded: the store may already
        # say they ended, and a heartbeat must not take that for an end elsewhere.
        self._ending: set[str] = set()
        # Tasks the heartbeat found ended elsewhere, their jobs stopped: the maintenance loop
        # logs what became of them.
        self._lost: list[str] = []
        self._wake = asyncio.Event()
        self._halt = asyncio.Event()  # ends the heartbeat loop, once the jobs are done
        self._beat: asyncio.Task[None] | None = None
        # Signs of pending work this worker may not have seen: a task created through another
        # worker or host (the store's notification), one submitted here with no room for it,
        # a job process freed. A claim that came back short with no sign since it began
        # means nothing was pending for this worker: the end of a job then claims nothing
        # until the next sign, or the poll every heartbeat interval (SQLite's other worker
        # processes notify nobody).
        self._signs = 0
        self._drained_at: int | None = None  # self._signs when a claim last came back short
        self._loop: asyncio.Task[None] | None = None
        self._progress_writer: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def running(self) -> list[str]:
        return list(self._jobs)

    async def start(self) -> None:
        """Register this worker, end what dead workers left running, pick up pending work."""
        if self.pool is not None:
            self.pool.start()
        self.store.subscribe(self._wake_up, self._cancelled_elsewhere)
        await self.store.heartbeat(self.worker_id, [])
        await self._recover()
        self._beat = asyncio.create_task(self._heartbeat(), name="fpx-heartbeat")
        self._loop = asyncio.create_task(self._maintain(), name="fpx-task-runner")
        self._progress_writer = asyncio.create_task(self._write_progress(), name="fpx-progress")
        await self._fill()
        log.info("task runner %s started (max %d running)", self.worker_id, self.max_running)

    async def submit(self, task: Task) -> None:
        """Start a newly created task now if there is room (and, for a process job, a free
        process); otherwise it waits, pending, for a free slot on any worker. Called as the
        request's background task."""
        if self._stopping:
            return
        process = task.job in self._process_jobs
        if self._free_slots() < 1 or (process and self._free_processes() < 1):
            self._wake_up()
            return
        try:
            await self._claim(1, task.id, processes=1 if process else 0)
        except StoreUnavailable as exc:
            # The 202 is sent and the task is stored, pending: the maintenance loop claims it
            # once the database answers again. Nothing for the ASGI server to log as a crash.
            log.warning("could not start task %s now (%s); it stays pending", task.id, exc,
                        extra={"task_id": task.id})
            self._wake_up()

    def cancel_local(self, task_id: str) -> bool:
        """Stop a job of this worker whose task was just cancelled in the store."""
        entry = self._jobs.get(task_id)
        if entry is None:
            return False
        entry[1].cancel()
        return True

    async def stop(self) -> None:
        """Stop claiming; give running jobs up to `shutdown_timeout` to finish, then interrupt
        them and terminate the job processes. Pending tasks stay pending for the next start."""
        self._stopping = True
        if self._loop is not None:
            # Let the loop finish its pass rather than cancel it: a claim cancelled half-way
            # would leave tasks running in the store with no job behind them.
            self._wake.set()
            await self._loop
        entries = list(self._jobs.values())
        if entries:
            log.info(
                "waiting up to %.1fs for %s", self.shutdown_timeout,
                count(len(entries), "running task")
            )
            _, late = await asyncio.wait([job for _, job in entries], timeout=self.shutdown_timeout)
            for job in late:
                job.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
                await self._interrupt([task for task, job in entries if job in late])
        # The lease was renewed all along, so that no other worker took these jobs for dead
        # while they finished.
        if self._beat is not None:
            self._halt.set()
            await self._beat
        if self._progress_writer is not None:
            self._progress_writer.cancel()
            await asyncio.gather(self._progress_writer, return_exceptions=True)
        if self.pool is not None:
            await self.pool.close()
        try:
            await self.store.remove_worker(self.worker_id)
        except Exception:
            log.exception("could not remove worker %s from the store", self.worker_id)

    async def _interrupt(self, tasks: list[Task]) -> None:
        """Record tasks whose jobs a stop cut short (a no-op for one cancelled meanwhile)."""
        interrupted = 0
        try:
            for task in tasks:
                progress, message = self._reported.pop(task.id, (task.progress, None))
                interrupted += await self.store.finish_task(
                    task.id, self.worker_id, TaskStatus.INTERRUPTED, progress,
                    error=INTERRUPTED_BY_STOP, message=message,
                )
        except Exception:
            # The stop goes on: the next worker to start finds this one gone and marks them.
            log.exception("could not record %d interrupted tasks", len(tasks))
        else:
            # Only those still this worker's: one cancelled or interrupted elsewhere meanwhile
            # keeps the outcome it has.
            log.info("interrupted %s", count(interrupted, "running task"))

    # -- internals ----------------------------------------------------------------------------

    def _wake_up(self) -> None:
        """Look for pending work now (see _signs)."""
        self._signs += 1
        self._wake.set()

    def _cancelled_elsewhere(self, task_id: str) -> None:
        """The store tells of a running task cancelled, through this host or another."""
        if self._stop_job(task_id):
            log.info("task %s was cancelled; stopping its job", task_id,
                     extra={"task_id": task_id})

    def _stop_job(self, task_id: str) -> bool:
        """Stop the job of a task that ended elsewhere, if it still runs here; False for one
        that is not this worker's, or already stopping, or whose job ended here (its end is
        recorded, or being recorded: the store had it end before the news came)."""
        entry = self._jobs.get(task_id)
        if entry is None or task_id in self._ending or entry[1].done() or entry[1].cancelling():
            return False
        entry[1].cancel()
        return True

    def _launch(self, task: Task) -> None:
        try:
            spec = self.jobs.get(task.job)
        except LookupError:  # never claimed: claims name this worker's jobs
            spec = None
        process = None
        if spec is not None and spec.kind is JobKind.PROCESS:
            assert self.pool is not None
            process = self.pool.take(task.id)  # now, so that no other claim counts it free
        job = asyncio.create_task(self._execute(task, spec, process), name=f"fpx-task-{task.id}")
        self._jobs[task.id] = (task, job)
        # A callback, not a `finally` in _execute: a job cancelled before it ever ran (cancelled
        # straight after its claim) runs no code of its own, and would hold its slot for good.
        job.add_done_callback(lambda _: self._forget(task.id, process))

    def _forget(self, task_id: str, process: JobProcess | None) -> None:
        if process is not None:
            process.release_unused(task_id)
        del self._jobs[task_id]
        self._ending.discard(task_id)
        self._reported.pop(task_id, None)
        self._unwritten.discard(task_id)
        self._wake.set()

    def _report(self, task_id: str, fraction: float, message: str | None) -> None:
        """A job's progress, kept until the next write (called from any thread)."""
        if message is None and task_id in self._reported:
            message = self._reported[task_id][1]
        self._reported[task_id] = (fraction, message)
        self._unwritten.add(task_id)

    async def _execute(self, task: Task, spec: JobSpec | None, process: JobProcess | None) -> None:
        # Cancelled (by the user, by a worker that took this one for dead, or by a stop), the
        # job just ends: the store already holds the outcome, or stop() records it.
        logs.task_id.set(task.id)  # this job's own asyncio task: every line it logs carries it
        log.debug("task %s started (job %s)", task.id, task.job)
        if spec is None:
            await self._record(task, TaskStatus.FAILED, error=f"unknown job {task.job!r}")
            return
        try:
            kwargs = spec.bind(task.args)
        except ValidationError as exc:  # its job changed since it was submitted
            await self._record(task, TaskStatus.FAILED, error=f"args no longer valid: {exc}")
            return
        report = functools.partial(self._report, task.id)
        limit = task.time_limit
        try:
            async with asyncio.timeout(limit) as scope:
                result = await self._call(task, spec, kwargs, report, process)
            encoded_ok = _json_error(result)
        except TimeoutError:
            if not scope.expired():
                raise
            log.info("task %s: %s", task.id, time_limit_exceeded(limit or 0))
            await self._record(task, TaskStatus.FAILED, error=time_limit_exceeded(limit or 0))
            return
        except JobFailed as exc:
            await self._record(task, TaskStatus.FAILED, error=str(exc))
            return
        except Exception as exc:
            log.exception("task %s failed", task.id)
            await self._record(task, TaskStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
            return
        if encoded_ok is not None:
            await self._record(task, TaskStatus.FAILED, error=encoded_ok)
        elif await self._record(task, TaskStatus.SUCCEEDED, result=result):
            log.debug("task %s succeeded", task.id)
        else:
            await self._log_ended_elsewhere(task.id, "its result is dropped")

    async def _call(
        self, task: Task, spec: JobSpec, kwargs: dict[str, Any], report: Any,
        process: JobProcess | None,
    ) -> Any:
        if process is not None:
            return await process.run(
                task.id, spec.fn, kwargs, spec.context_param, report, self.cancel_grace
            )
        cancelled = threading.Event()
        if spec.context_param is not None:
            kwargs[spec.context_param] = JobContext(task.id, report, cancelled, self.models)
        if spec.kind is JobKind.ASYNC:
            return await spec.fn(**kwargs)
        try:
            return await _in_thread(task.id, functools.partial(spec.fn, **kwargs))
        except asyncio.CancelledError:
            cancelled.set()  # the thread goes on until the job looks
            raise

    async def _log_ended_elsewhere(self, task_id: str, consequence: str) -> None:
        """Log what the store says became of a task this worker ran: cancelled (through this
        worker or another), or interrupted by a worker that took this one for dead (a pause
        past its lease)."""
        task = await self.store.get_task(task_id)
        if task is None:
            what = "no longer exists"
        else:
            what = f"is {task.status.value}" + (f" ({task.error})" if task.error else "")
        log.info("task %s %s; %s", task_id, what, consequence, extra={"task_id": task_id})

    async def _record(
        self,
        task: Task,
        status: TaskStatus,
        result: Any = None,
        error: str | None = None,
    ) -> bool:
        """Write how a job ended, retrying while the store refuses (a database locked past
        its busy timeout, a full disk): one failed write must not leave a task running for
        good. The job keeps its slot meanwhile; a stop cancels the retries and records the
        task interrupted."""
        progress, message = self._reported.get(task.id, (task.progress, None))
        if status is TaskStatus.SUCCEEDED:
            progress = 1.0
        self._ending.add(task.id)  # until _forget
        delay = RECORD_RETRY_FIRST
        while True:
            try:
                recorded = await self.store.finish_task(
                    task.id, self.worker_id, status, progress, result=result, error=error,
                    message=message,
                )
            except StoreUnavailable as exc:  # expected while the database is away: no traceback
                log.warning("could not record that task %s %s (%s); retrying in %.1fs",
                            task.id, status, exc, delay)
            except Exception:
                log.exception(
                    "could not record that task %s %s; retrying in %.1fs", task.id, status, delay
                )
            else:
                if recorded and self.on_finished is not None and task.started_at is not None:
                    self.on_finished(task.job, status, max(0.0, time.time() - task.started_at))
                return recorded
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECORD_RETRY_MAX)

    async def _write_progress(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_WRITE_INTERVAL)
            if not self._unwritten:
                continue
            ids, self._unwritten = self._unwritten, set()
            updates = [(i, *self._reported[i]) for i in ids if i in self._reported]
            try:
                await self.store.record_progress(self.worker_id, updates)
            except Exception as exc:
                what = f"could not record the progress of {count(len(updates), 'task')}"
                if isinstance(exc, StoreUnavailable):  # the next write tries again
                    log.warning("%s (%s)", what, exc)
                else:
                    log.exception(what)
                self._unwritten |= ids

    async def _fill(self, poll: bool = False) -> None:
        """Claim work for the free slots, unless nothing was pending at the last claim and
        nothing has said otherwise since; `poll` (the maintenance loop's timer) claims anyway."""
        if self._stopping:
            return
        slots = self._free_slots()
        if slots <= 0:
            return
        if self._drained_at == self._signs and not poll:
            return  # nothing pending for this worker since its last claim
        signs = self._signs
        short = await self._claim_free(slots)
        self._drained_at = signs if short and self._signs == signs else None

    async def _claim_free(self, slots: int) -> bool:
        """Claim pending tasks for the free slots; whether the store had fewer than asked."""
        if self.pool is None:
            return await self._claim(slots, jobs=self._server_jobs) < slots
        processes = self._free_processes()
        if processes >= slots:
            return await self._claim(slots, jobs=self.jobs.names(), processes=slots) < slots
        # Process jobs take only the processes that are free; the rest of the slots go to
        # the other jobs. With no process free, a process job pending stays so until one
        # frees, which is a sign of its own.
        short = await self._claim(processes, jobs=self._process_jobs, processes=processes) < (
            processes or 1
        )
        rest = self._free_slots()
        return await self._claim(rest, jobs=self._server_jobs) < rest and short

    def _free_slots(self) -> int:
        return self.max_running - len(self._jobs) - self._claiming

    def _free_processes(self) -> int:
        assert self.pool is not None
        return self.pool.free - self._claiming_processes

    async def _claim(
        self, limit: int, task_id: str | None = None, *, jobs: list[str] | None = None,
        processes: int = 0,
    ) -> int:
        if limit <= 0:
            return 0
        # Hold the slots (and processes) while the claim is in flight, so concurrent claims
        # never exceed max_running, or the free processes, between them.
        self._claiming += limit
        self._claiming_processes += processes
        try:
            tasks = await self.store.claim_tasks(self.worker_id, limit, task_id, jobs)
        finally:
            self._claiming -= limit
            self._claiming_processes -= processes
        for task in tasks:
            self._launch(task)
        return len(tasks)

    async def _recover(self) -> None:
        recovery = await self.store.recover(self.worker_id, self.lease_timeout)
        if recovery.interrupted or recovery.dead_workers:
            log.warning(
                "recovered after dead workers %s: %s marked interrupted",
                ", ".join(recovery.dead_workers) or "(none)",
                count(len(recovery.interrupted), "running task"),
            )

    async def _heartbeat(self) -> None:
        """Renew the lease every heartbeat_interval, from the start of one renewal to the
        next, until stop() is done with the jobs. Only the renewal is awaited here: the
        lease once lapsed behind the lookups that log lost tasks, each a slow read on a
        loaded host, and another host took this one for dead (docs/postgres.md)."""
        failing = False
        while not self._halt.is_set():
            started = time.monotonic()
            try:
                lost = await self.store.heartbeat(self.worker_id, self.running)
            except StoreUnavailable as exc:
                if not failing:  # once per outage: the maintenance loop warns of it too
                    log.warning("could not renew the lease of worker %s (%s); retrying",
                                self.worker_id, exc)
                failing = True
            except Exception:
                log.exception("could not renew the lease of worker %s; retrying", self.worker_id)
                failing = True
            else:
                if failing:
                    log.info("lease of worker %s renewed again", self.worker_id)
                    failing = False
                # A task that ended here after the beat listed the running ones is no news.
                stopped = [task_id for task_id in lost if self._stop_job(task_id)]
                if stopped:
                    self._lost.extend(stopped)
                    self._wake.set()
            pause = started + self.heartbeat_interval - time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), max(0.0, pause))

    async def _maintain(self) -> None:
        next_poll = time.monotonic() + self.heartbeat_interval
        polls = 0
        while not self._stopping:
            timeout = max(0.0, next_poll - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            try:
                while self._lost:
                    await self._log_ended_elsewhere(self._lost.pop(0), "its job is stopped")
                poll = time.monotonic() >= next_poll
                if poll:
                    next_poll = time.monotonic() + self.heartbeat_interval
                    polls += 1
                    # Dead workers are rare: look for them every few beats, not every one.
                    if polls % 4 == 0:
                        await self._recover()
                await self._fill(poll)
            except StoreUnavailable as exc:
                # A locked or failing database must not end the runner: log and go on.
                log.warning("task runner maintenance failed (%s); retrying", exc)
            except Exception:
                log.exception("task runner maintenance failed; retrying")


def _in_thread(task_id: str, call: Callable[[], Any]) -> asyncio.Future[Any]:
    """Run `call` in a thread of its own and await its result.

    A daemon thread, not an executor's: a thread cannot be stopped from outside, and the
    interpreter waits at exit for an executor's threads, so a thread job that ignores its
    cancel would keep a stopped server from ever exiting. One thread per running job, which
    max_running bounds."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not future.done():  # cancelled meanwhile: nobody waits for it
            (future.set_result if ok else future.set_exception)(value)

    def run() -> None:
        try:
            outcome = (True, call())
        except BaseException as exc:  # handed to the awaiting task, which records it
            outcome = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop has closed: the server stopped
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=run, name=f"fpx-job-{task_id}", daemon=True).start()
    return future


def _json_error(result: Any) -> str | None:
    """Why JSON cannot hold a job's result, or None when it can."""
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"the job's result is not JSON-encodable: {exc}"
    return None
