"""Group commit: calls of one kind that arrive while the previous group is being written run
together, in one transaction, when it is done. Under load a commit costs more than the
statements it commits (an fsync; on PostgreSQL, a NOTIFY's commit lock too), so many calls
share one. Each call still gets its own result or its own exception. Both stores use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


class GroupCommit:
    """`write(calls)` gets the queued calls' argument tuples, writes them in one transaction
    and returns one result per call, an exception instance standing for that call's failure
    (the others still commit); an exception it raises fails every call of the group."""

    def __init__(self, write: Callable[[list[tuple]], Awaitable[list[Any]]]) -> None:
        self._write = write
        self._queue: list[tuple[tuple, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def __call__(self, *args: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._queue.append((args, future))
        if self._flusher is None:
            # A task of its own, so that a caller's cancellation never strands the others.
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        batch: list[tuple[tuple, asyncio.Future[Any]]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    results = await self._write([args for args, _ in batch])
                except Exception as exc:
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its caller was cancelled
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                batch = []
        finally:
            for _, future in batch + self._queue:
                future.cancel()
            self._queue = []
            self._flusher = None
