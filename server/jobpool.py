"""The job processes: a small pool of worker processes for plain `def` jobs, one job at a time each.

concurrent.futures.ProcessPoolExecutor cannot stop one job: it can neither terminate the worker
running it nor tell which worker died, and a dead worker breaks the whole pool. Here each
process has its own Pipe, so a cancel reaches the one job, a job past its grace is terminated
alone, and a process that dies (a segfault, os._exit, the OOM killer) fails only its task and is
replaced. Processes are spawned (no fork of a threaded server) straight from the event loop's
thread, and die with the server: PR_SET_PDEATHSIG on Linux, and the pipe's end or a new parent
pid everywhere. No FastAPI imports here; the child side imports nothing of the server's.

Messages, as tuples over the pipe:
  server -> process: ("run", task_id, fn, kwargs, context_param), ("cancel", task_id)
  process -> server: ("progress", task_id, fraction, message),
                     ("done", task_id, result_json, message), ("error", task_id, text, tb, message)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from server.jobs import JobContext

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

log = logging.getLogger("fpx.jobs")

Report = Callable[[float, str | None], None]

PROGRESS_SEND_INTERVAL = 0.2  # seconds between a process's progress messages, at most
STOP_WAIT = 2.0  # seconds a stopping pool waits for a terminated process before SIGKILL


class JobFailed(Exception):
    """The job raised, returned what JSON cannot encode, or its process died."""


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "unknown exit"
    if exitcode < 0:
        return f"signal {-exitcode}"
    return f"exit code {exitcode}"


class JobProcess:
    """One worker process and its pipe, seen from the server's event loop."""

    def __init__(self, pool: ProcessPool) -> None:
        self.pool = pool
        import multiprocessing  # here: a server without process jobs never needs it

        self.loop = asyncio.get_running_loop()
        mp = multiprocessing.get_context("spawn")
        self.conn, child_conn = mp.Pipe(duplex=True)
        self.proc = mp.Process(
            target=child_main, args=(child_conn, os.getpid()), name="fpx-job", daemon=False
        )
        self.proc.start()
        child_conn.close()  # so that the child's death reads as the pipe's end
        self.task_id: str | None = None
        self._future: asyncio.Future[Any] | None = None
        self._report: Report | None = None
        self._fraction = 0.0
        self._kill_timer: asyncio.TimerHandle | None = None
        self.exited = False
        self.ended = asyncio.Event()  # set once the process has exited and been reaped
        self.loop.add_reader(self.conn.fileno(), self._readable)
        self.loop.add_reader(self.proc.sentinel, self._on_exit)

    @property
    def pid(self) -> int:
        assert self.proc.pid is not None
        return self.proc.pid

    @property
    def busy(self) -> bool:
        return self.task_id is not None

    def take(self, task_id: str) -> None:
        """Reserve this process for a task that is about to run here."""
        assert not self.busy and not self.exited
        self.task_id = task_id

    async def run(
        self, task_id: str, fn: Callable[..., Any], kwargs: dict[str, Any],
        context_param: str | None, report: Report, grace: float,
    ) -> Any:
        """Run the job here and return its result; JobFailed if it fails or the process dies.
        Cancelled, it tells the job, and terminates the process if the job is still running
        `grace` seconds later (the process stays busy until then)."""
        assert self.task_id == task_id
        self._future = self.loop.create_future()
        self._report = report
        self._fraction = 0.0
        try:
            self.conn.send(("run", task_id, fn, kwargs, context_param))
            return await self._future
        except asyncio.CancelledError:
            self._cancel(task_id, grace)
            raise
        except BaseException:
            # A failed send (an argument pickle cannot carry): nothing runs here.
            if self._future is not None and not self._future.done():
                self._release()
            raise

    def release_unused(self, task_id: str) -> None:
        """Free a process taken for a task whose job never started here."""
        if self.task_id == task_id and self._future is None and self._kill_timer is None:
            self._release()

    def _cancel(self, task_id: str, grace: float) -> None:
        self._future = None
        self._report = None
        if self.exited or self.task_id != task_id:
            return
        with contextlib.suppress(OSError):
            self.conn.send(("cancel", task_id))
        self._kill_timer = self.loop.call_later(grace, self._terminate_if_running, task_id)

    def _terminate_if_running(self, task_id: str) -> None:
        if self.task_id == task_id and not self.exited:
            log.warning("task %s ignored its cancel; terminating job process %d", task_id,
                        self.pid)
            self.proc.kill()

    def _readable(self) -> None:
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            self.loop.remove_reader(self.conn.fileno())  # its exit is seen on the sentinel
            return
        self._handle(message)

    def _handle(self, message: tuple) -> None:
        kind, task_id = message[0], message[1]
        if task_id != self.task_id:
            return  # a late message of a job cancelled meanwhile
        if kind == "progress":
            self._fraction = message[2]
            if self._report is not None:
                self._report(message[2], message[3])
            return
        future = self._future
        if self._report is not None and message[-1] is not None:
            self._report(self._fraction, message[-1])  # the last note, if still unsent
        if future is not None and not future.done():
            if kind == "done":
                future.set_result(json.loads(message[2]))
            else:
                log.error("task %s failed in job process %d: %s", task_id, self.pid,
                          message[3].rstrip() or message[2])
                future.set_exception(JobFailed(message[2]))
        self._release()

    def _release(self) -> None:
        self.task_id = None
        self._future = None
        self._report = None
        if self._kill_timer is not None:
            self._kill_timer.cancel()
            self._kill_timer = None
        self.pool.freed()

    def _on_exit(self) -> None:
        self.loop.remove_reader(self.proc.sentinel)
        # What it said before it died still counts (a result sent just before an exit).
        with contextlib.suppress(EOFError, OSError):
            while not self.conn.closed and self.conn.poll():
                self._handle(self.conn.recv())
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(self.conn.fileno())
        self.proc.join(1.0)  # readable sentinel: it has exited, this only reaps it
        self.exited = True
        how = describe_exit(self.proc.exitcode)
        future = self._future
        if future is not None and not future.done():
            log.error("job process %d died running task %s (%s)", self.pid, self.task_id, how)
            future.set_exception(JobFailed(f"job process died ({how})"))
        elif not self.pool.closing:
            log.warning("job process %d exited (%s)", self.pid, how)
        self.conn.close()
        self.ended.set()
        self._release()
        self.pool.replace(self)

    def close(self) -> None:
        """Terminate the process (and whatever job it runs)."""
        if not self.exited and self.proc.is_alive():
            self.proc.terminate()


class ProcessPool:
    """`size` job processes; a dead or terminated one is replaced at once."""

    def __init__(self, size: int, on_free: Callable[[], None]) -> None:
        self.size = size
        self.on_free = on_free
        self.processes: list[JobProcess] = []
        self.closing = False

    def start(self) -> None:
        self.processes = [JobProcess(self) for _ in range(self.size)]
        log.info("started %d job processes (pids %s)", self.size,
                 ", ".join(str(p.pid) for p in self.processes))

    @property
    def free(self) -> int:
        return sum(not p.busy for p in self.processes)

    def take(self, task_id: str) -> JobProcess:
        """A free process, reserved for `task_id` (the runner claims no more than are free)."""
        process = next(p for p in self.processes if not p.busy)
        process.take(task_id)
        return process

    def freed(self) -> None:
        self.on_free()

    def replace(self, process: JobProcess) -> None:
        if process in self.processes:
            self.processes.remove(process)
        if not self.closing:
            new = JobProcess(self)
            self.processes.append(new)
            log.info("job process %d replaces %d", new.pid, process.pid)
            self.on_free()

    async def close(self) -> None:
        """Terminate every process (the jobs still running with them) and reap them."""
        self.closing = True
        processes = list(self.processes)
        for process in processes:
            process.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(p.ended.wait() for p in processes)), STOP_WAIT)
        for process in processes:
            if not process.exited:
                process.proc.kill()
                await asyncio.to_thread(process.proc.join, STOP_WAIT)
        self.processes = []


# -- the child's side ------------------------------------------------------------------------------


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process when the server dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))
    if os.getppid() != parent_pid:  # the server died before prctl took effect
        os._exit(1)


class _Child:
    """A job process: the main thread runs jobs one at a time; a helper thread reads the pipe
    (cancels, the next job, the server's end) and sends progress at most every 0.2 s."""

    def __init__(self, conn: Connection, parent_pid: int) -> None:
        self.conn = conn
        self.parent_pid = parent_pid
        self.lock = threading.Lock()  # the helper thread and the job both send
        self.jobs: queue.Queue[tuple] = queue.Queue()
        self.task_id: str | None = None
        self.cancelled = threading.Event()
        self.pending: tuple[float, str | None] | None = None
        self.message: str | None = None

    def send(self, message: tuple) -> None:
        with self.lock:
            self.conn.send(message)

    def report(self, fraction: float, message: str | None) -> None:
        with self.lock:
            self.pending = (fraction, message)
            if message is not None:
                self.message = message

    def listen(self) -> None:
        while True:
            try:
                if self.conn.poll(PROGRESS_SEND_INTERVAL):
                    message = self.conn.recv()
                    if message[0] == "run":
                        self.jobs.put(message)
                    elif message[0] == "cancel" and message[1] == self.task_id:
                        self.cancelled.set()
                if os.getppid() != self.parent_pid:
                    os._exit(1)
                with self.lock:
                    pending, self.pending = self.pending, None
                    if pending is not None and self.task_id is not None:
                        self.conn.send(("progress", self.task_id, *pending))
            except (EOFError, OSError):
                os._exit(1)  # the server is gone: so is every job of it

    def run_forever(self) -> None:
        threading.Thread(target=self.listen, name="fpx-job-pipe", daemon=True).start()
        while True:
            _, task_id, fn, kwargs, context_param = self.jobs.get()
            with self.lock:
                self.task_id, self.pending, self.message = task_id, None, None
                self.cancelled = threading.Event()
            if context_param is not None:
                kwargs = {**kwargs, context_param: JobContext(task_id, self.report, self.cancelled)}
            try:
                result = fn(**kwargs)
                try:
                    encoded = json.dumps(result, allow_nan=False)
                except (TypeError, ValueError) as exc:
                    raise JobFailed(f"the job's result is not JSON-encodable: {exc}") from None
            except BaseException as exc:  # even SystemExit: the server records it, this goes on
                if isinstance(exc, JobFailed):
                    outcome: tuple = ("error", task_id, str(exc), "", None)
                else:
                    outcome = ("error", task_id, f"{type(exc).__name__}: {exc}",
                               traceback.format_exc(), None)
            else:
                outcome = ("done", task_id, encoded, None)
            with self.lock:
                outcome = (*outcome[:-1], self.message)
                self.task_id, self.pending = None, None
                self.conn.send(outcome)


def child_main(conn: Connection, parent_pid: int) -> None:
    """The job process's entry point (spawned by JobProcess)."""
    _die_with_parent(parent_pid)
    # Ctrl-C on `fpx serve` reaches the whole terminal's process group: the server stops its
    # jobs itself, so a job process must not die of it with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _Child(conn, parent_pid).run_forever()
