"""Start-up and shut-down: the model registry, the database, the task runner and pruner.

Each step is logged with its duration. A failing step stops start-up with the reason logged;
the steps already done are undone, so nothing is left half-started.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager

from fastapi import FastAPI

from server.db import SQLiteStore
from server.dburl import DatabaseUrl
from server.logs import count
from server.registry import BUILTIN_SPEC, ModelRegistry
from server.retention import TaskPruner
from server.settings import Settings
from server.store import Store, TaskStatus
from server.tasks import TaskRunner

log = logging.getLogger("fpx.lifespan")


class Phase:
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"


class _Step:
    """Log how long a start-up or shut-down step took.

    A failed shut-down step (`stopping=True`) is logged and the shut-down goes on: each later
    step still releases what it holds, and the stop ends as one.
    """

    def __init__(self, what: str, *, stopping: bool = False) -> None:
        self.what = what
        self.stopping = stopping

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> bool:
        ms = (time.perf_counter() - self.started) * 1000
        if exc is None:
            log.info("%s: done (%.1f ms)", self.what, ms)
            return False
        log.error("%s failed after %.1f ms: %s", self.what, ms, exc, exc_info=self.stopping)
        return self.stopping and isinstance(exc, Exception)


# uvicorn's exit code for a start-up that did not complete.
STARTUP_ABORTED = 3


@contextmanager
def _abort_on_stop_signal() -> Iterator[None]:
    """A SIGTERM or SIGINT before the server is ready ends the process at once.

    uvicorn would only note the signal and wait for start-up to finish, which a model whose
    loader hangs may never do: a launcher that stops us (or dies, and has the kernel send
    SIGTERM) would leave a server behind. Nothing is served or running yet, and SQLite is
    safe to leave mid-way, so there is nothing to drain. Only in the main thread, where
    signal handlers live (not under a TestClient).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def abort(sig: int, frame: object) -> None:
        log.warning("stop requested during start-up (%s): aborting", signal.Signals(sig).name)
        logging.shutdown()
        os._exit(STARTUP_ABORTED)

    previous = {sig: signal.signal(sig, abort) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.phase = Phase.STARTING
    started = time.perf_counter()
    async with AsyncExitStack() as stack:
        with _abort_on_stop_signal():
            registry = app.state.registry = ModelRegistry()
            stack.push_async_callback(_cleared, registry)
            with _Step(f"loading {count(1 + len(settings.models), 'model')}"):
                await registry.load([BUILTIN_SPEC, *settings.models])
            if (metrics := getattr(app.state, "metrics", None)) is not None:
                for model in registry.models():
                    metrics.model_load.labels(model.name).set(model.load_ms / 1000)

            store = open_store(settings)
            with _Step(f"opening database {settings.db}"):
                await store.open()
            stack.push_async_callback(_closed, store)
            app.state.store = store

            runner = TaskRunner(
                store,
                app.state.jobs,
                models=registry,
                max_running=settings.max_running,
                heartbeat_interval=settings.heartbeat_interval,
                lease_timeout=settings.lease_timeout,
                shutdown_timeout=settings.shutdown_timeout,
                job_processes=settings.job_processes,
                cancel_grace=settings.cancel_grace,
                on_finished=_job_timer(app),
            )
            with _Step("starting task runner"):
                await runner.start()
            stack.push_async_callback(_stopped, runner)
            app.state.runner = runner

            app.state.pruner = None
            retention = settings.task_retention.total_seconds()
            if retention > 0:
                pruner = TaskPruner(store, retention, on_pruned=_pruned_counter(app))
                pruner.start()
                stack.push_async_callback(_pruner_stopped, pruner)
                app.state.pruner = pruner
                log.info("finished tasks are kept for %s (FPX_TASK_RETENTION)",
                         settings.task_retention)
            else:
                log.info("finished tasks are kept for good (FPX_TASK_RETENTION=0)")

        app.state.phase = Phase.READY
        log.info("fpx ready in %.1f ms", (time.perf_counter() - started) * 1000)
        try:
            yield
        finally:
            app.state.phase = Phase.STOPPING
            log.info("fpx stopping")
    log.info("fpx stopped")


def open_store(settings: Settings) -> Store:
    """The store FPX_DB names: PostgreSQL for a postgresql:// URL, else an SQLite file."""
    if isinstance(settings.db, DatabaseUrl):
        from server.pg import PostgresStore  # asyncpg: only when it is used

        return PostgresStore(
            settings.db, pool_size=settings.db_pool_size, timeout=settings.db_busy_timeout
        )
    return SQLiteStore(settings.db, busy_timeout=settings.db_busy_timeout)


def _job_timer(app: FastAPI) -> Callable[[str, TaskStatus, float], None] | None:
    """How long each job ran, by job and outcome, for /metrics (when metrics are on)."""
    metrics = getattr(app.state, "metrics", None)
    if metrics is None:
        return None

    def observe(job: str, status: TaskStatus, seconds: float) -> None:
        metrics.job_duration.labels(job, status.value).observe(seconds)

    return observe


def _pruned_counter(app: FastAPI) -> Callable[[int], None] | None:
    """How many finished tasks the pruner removed, for /metrics (when metrics are on)."""
    metrics = getattr(app.state, "metrics", None)
    return None if metrics is None else metrics.tasks_pruned.inc


async def _pruner_stopped(pruner: TaskPruner) -> None:
    with _Step("stopping task pruner", stopping=True):
        await pruner.stop()


async def _cleared(registry: ModelRegistry) -> None:
    with _Step(f"releasing {count(len(registry), 'model')}", stopping=True):
        if failed := await registry.clear():
            log.warning("%s failed to close: %s", count(len(failed), "model"), ", ".join(failed))


async def _closed(store: Store) -> None:
    with _Step("closing database", stopping=True):
        await store.close()


async def _stopped(runner: TaskRunner) -> None:
    with _Step("stopping task runner", stopping=True):
        await runner.stop()
