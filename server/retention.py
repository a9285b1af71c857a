"""Finished tasks are kept for FPX_TASK_RETENTION, then pruned in the background.

The pruner removes them in small batches, each one short transaction, with a pause between
batches: requests and claims wait for the database (one thread per worker process, and
SQLite's one writer) for at most one batch. No FastAPI imports here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from server.logs import count
from server.store import Store, StoreUnavailable

log = logging.getLogger("fpx.retention")

# Tasks removed per transaction: about a millisecond of the database's time.
PRUNE_BATCH = 100
# Seconds between two batches of one pass, so that other calls get the database in between.
PRUNE_PAUSE = 0.05
# The longest wait between two passes; a shorter retention is looked at as often as it lasts.
PRUNE_INTERVAL_MAX = 60.0


class TaskPruner:
    """Removes the tasks that finished more than `retention` seconds ago, every `interval`
    seconds (the retention, at most PRUNE_INTERVAL_MAX): a task is gone within about
    retention + interval after it finished."""

    def __init__(
        self,
        store: Store,
        retention: float,
        *,
        batch: int = PRUNE_BATCH,
        pause: float = PRUNE_PAUSE,
        on_pruned: Callable[[int], None] | None = None,
    ) -> None:
        if retention <= 0:
            raise ValueError("a retention of 0 keeps tasks for good: start no pruner")
        self.store = store
        self.retention = retention
        self.interval = min(retention, PRUNE_INTERVAL_MAX)
        self.batch = batch
        self.pause = pause
        # Told how many tasks each batch removed (for /metrics).
        self.on_pruned = on_pruned
        self._loop: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="fpx-task-pruner")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None

    async def prune(self) -> int:
        """One pass: remove every task past its retention, a batch at a time; how many."""
        cutoff = time.time() - self.retention
        removed = 0
        while True:
            n = await self.store.prune_tasks(cutoff, self.batch)
            removed += n
            if n and self.on_pruned is not None:
                self.on_pruned(n)
            if n < self.batch:
                return removed
            await asyncio.sleep(self.pause)

    async def _run(self) -> None:
        while True:
            try:
                if removed := await self.prune():
                    log.info("pruned %s finished over %gs ago", count(removed, "task"),
                             self.retention)
            # A locked or failing database must not end the pruner: the next pass retries.
            except StoreUnavailable as exc:
                log.warning("pruning finished tasks failed (%s); retrying in %gs", exc,
                            self.interval)
            except Exception:
                log.exception("pruning finished tasks failed; retrying in %gs", self.interval)
            await asyncio.sleep(self.interval)
