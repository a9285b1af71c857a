"""The storage interface the routers and the task runner use, and the records it returns.

SQLite (server/db.py) is the first backend; PostgreSQL (server/pg.py), for several hosts
sharing one database, implements the same `Store` protocol and touches neither the routers nor
the runner.
No FastAPI imports here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol


class TaskStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self not in (TaskStatus.PENDING, TaskStatus.RUNNING)


UNFINISHED = (TaskStatus.PENDING, TaskStatus.RUNNING)


class StoreError(RuntimeError):
    """The database cannot be opened or used."""


class StoreUnavailable(StoreError):
    """The database cannot serve a call now (a full disk, a lock held past the busy timeout,
    its file gone): the call changed nothing, and the API answers 503."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"database unavailable: {cause}")
        self.cause = cause


class QueueFullError(Exception):
    """As many tasks as allowed are unfinished; the submission is refused."""

    def __init__(self, unfinished: int) -> None:
        super().__init__(f"{unfinished} tasks are unfinished, the most this server accepts")
        self.unfinished = unfinished


class DuplicateTaskError(Exception):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id} already exists")
        self.task_id = task_id


@dataclass(slots=True, frozen=True)
class User:
    username: str


@dataclass(slots=True, frozen=True)
class Item:
    id: int
    name: str
    description: str | None
    created_at: float


@dataclass(slots=True, frozen=True)
class Task:
    """A task row. Times are Unix seconds; `args` and `result` are JSON values; `progress` and
    `message` are what the job last reported (written at most every 0.5 s while it runs)."""

    id: str
    status: TaskStatus
    job: str
    args: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    progress: float
    message: str | None
    result: Any
    error: str | None
    worker: str | None
    attempts: int
    time_limit: float | None


@dataclass(slots=True, frozen=True)
class Recovery:
    """What a recovery pass did: tasks of dead workers it ended, and those workers."""

    interrupted: list[str]
    dead_workers: list[str]


class Store(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    # Why the database cannot take writes now (its last write failed, its file is gone), or
    # None. Every call raises StoreUnavailable for such a failure, and writes nothing.
    @property
    def problem(self) -> str | None: ...
    # Be told, as soon as the backend can, of each new task and of each running task
    # cancelled, through any host: the runner starts or stops a job at once instead of at its
    # next heartbeat. Best effort (the heartbeat stays the fallback); a backend that cannot
    # may do nothing.
    def subscribe(
        self, on_created: Callable[[], None], on_cancelled: Callable[[str], None]
    ) -> None: ...

    # users
    async def list_users(self) -> list[User]: ...
    async def get_user(self, username: str) -> User | None: ...

    # items
    async def create_item(self, name: str, description: str | None) -> Item: ...
    async def get_item(self, item_id: int) -> Item | None: ...
    async def list_items(self, limit: int, offset: int) -> list[Item]: ...
    async def delete_item(self, item_id: int) -> bool: ...

    # tasks
    async def create_task(
        self,
        task_id: str,
        job: str,
        args: dict[str, Any],
        max_unfinished: int,
        time_limit: float | None = None,
    ) -> Task: ...
    async def get_task(self, task_id: str) -> Task | None: ...
    async def list_tasks(
        self, status: TaskStatus | None, limit: int, job: str | None = None
    ) -> list[Task]: ...
    async def count_tasks(self) -> dict[TaskStatus, int]: ...
    async def count_tasks_by_job(self) -> dict[tuple[TaskStatus, str], int]: ...
    async def claim_tasks(
        self, worker: str, limit: int, task_id: str | None = None,
        jobs: Collection[str] | None = None,
    ) -> list[Task]: ...
    async def record_progress(
        self, worker: str, updates: list[tuple[str, float, str | None]]
    ) -> None: ...
    async def finish_task(
        self,
        task_id: str,
        worker: str,
        status: TaskStatus,
        progress: float,
        result: Any = None,
        error: str | None = None,
        message: str | None = None,
    ) -> bool: ...
    async def cancel_task(self, task_id: str) -> tuple[Task | None, bool]: ...
    # Remove a finished task: the task as it was (None if unknown) and whether this call
    # removed it; a pending or running task is left as it is (False).
    async def delete_task(self, task_id: str) -> tuple[Task | None, bool]: ...
    # Remove up to `limit` finished tasks that finished before `finished_before` (Unix
    # seconds), oldest first, in one short transaction; how many it removed. Unfinished tasks
    # are never removed. The caller repeats it until it removes fewer than `limit`.
    async def prune_tasks(self, finished_before: float, limit: int) -> int: ...
    # Renew the worker's lease; return which of `running` it no longer owns: cancelled or
    # interrupted elsewhere, or no longer in the store at all.
    async def heartbeat(self, worker: str, running: list[str]) -> list[str]: ...
    async def recover(self, worker: str, lease_timeout: float) -> Recovery: ...
    async def remove_worker(self, worker: str) -> None: ...
