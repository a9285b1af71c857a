"""SQLite backend of the Store: schema, one connection per worker process, queries.

The connection lives in one dedicated thread, so a database that another process holds locked
delays the requests that need it (up to `busy_timeout`) without ever blocking the event loop.
WAL mode lets every worker process on the machine read while one writes; each state change of
a task is one short transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from server.groupcommit import GroupCommit
from server.store import (
    UNFINISHED,
    DuplicateTaskError,
    Item,
    QueueFullError,
    Recovery,
    StoreError,
    StoreUnavailable,
    Task,
    TaskStatus,
    User,
)

log = logging.getLogger("fpx.db")

T = TypeVar("T")

SCHEMA_VERSION = 2
# Seconds a failed write keeps the store's problem (and /readyz at 503) after it happened.
WRITE_FAILURE_HOLD = 5.0
SEED_USERS = ("Rick", "Morty")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (username TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    description TEXT,
    created_at REAL NOT NULL
);
-- wait_time is version 1's (sleep was the only job); kept, so that migrating a version-1
-- database needs no rebuild of its table: the sleep job's, 0 for the others. args and result
-- are JSON text.
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    wait_time INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    progress REAL NOT NULL DEFAULT 0,
    result TEXT,
    error TEXT,
    worker TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    job TEXT NOT NULL DEFAULT 'sleep',
    args TEXT NOT NULL DEFAULT '{}',
    message TEXT,
    time_limit REAL
);
CREATE INDEX IF NOT EXISTS tasks_created ON tasks (created_at);
CREATE INDEX IF NOT EXISTS tasks_unfinished ON tasks (status, created_at)
    WHERE status IN ('pending', 'running');
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
"""

# Indexes on columns a migration adds: made once the schema is current.
INDEXES = """
CREATE INDEX IF NOT EXISTS tasks_job ON tasks (job, created_at);
-- Finished tasks by age, for pruning (FPX_TASK_RETENTION); unfinished ones are not in it.
CREATE INDEX IF NOT EXISTS tasks_finished ON tasks (finished_at)
    WHERE status NOT IN ('pending', 'running');
"""

# Version 1 -> 2: tasks run named jobs with JSON args and any JSON result.
MIGRATE_1_TO_2 = (
    "ALTER TABLE tasks ADD COLUMN job TEXT NOT NULL DEFAULT 'sleep'",
    "ALTER TABLE tasks ADD COLUMN args TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE tasks ADD COLUMN message TEXT",
    "ALTER TABLE tasks ADD COLUMN time_limit REAL",
    "UPDATE tasks SET args = json_object('wait_time', wait_time),"
    " result = CASE WHEN result IS NULL THEN NULL ELSE json_quote(result) END",
)

TASK_COLUMNS = (
    "id, status, job, args, created_at, started_at, finished_at, progress, message, result, "
    "error, worker, attempts, time_limit"
)


def _task(row: tuple[Any, ...]) -> Task:
    return Task(
        id=row[0],
        status=TaskStatus(row[1]),
        job=row[2],
        args=json.loads(row[3]),
        created_at=row[4],
        started_at=row[5],
        finished_at=row[6],
        progress=row[7],
        message=row[8],
        result=None if row[9] is None else json.loads(row[9]),
        error=row[10],
        worker=row[11],
        attempts=row[12],
        time_limit=row[13],
    )


def _item(row: tuple[Any, ...]) -> Item:
    return Item(id=row[0], name=row[1], description=row[2], created_at=row[3])


def _cause(exc: sqlite3.Error, busy_timeout: float) -> str:
    """What an SQLite error means for the user, in a few words."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name == "SQLITE_FULL":
        return "disk is full"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return (
            f"locked by another process for over {busy_timeout:g} s (FPX_DB_BUSY_TIMEOUT)"
        )
    if name.startswith("SQLITE_READONLY"):
        return "the database file cannot be written"
    if name.startswith("SQLITE_IOERR"):
        return f"I/O error ({exc})"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return "the database file is corrupt"
    return str(exc)


def _pid_alive(pid: int) -> bool:
    """Whether a process of this machine still runs (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


class SQLiteStore:
    """The Store on one SQLite file. Every method runs in the store's own thread."""

    def __init__(self, path: Path, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        # (st_dev, st_ino) of the file opened: a path that names another file, or none, means
        # the database was deleted or replaced under the server (see _check_file).
        self._identity: tuple[int, int] | None = None
        self._lost: str | None = None
        self._write_error: str | None = None
        self._write_failed_at = -math.inf
        # The three writes each task makes, grouped under load (server/groupcommit.py).
        self._create = self._grouped(self._create_tasks)
        self._claim = self._grouped(self._claim_each)
        self._finish = self._grouped(self._finish_each)

    # -- plumbing -----------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn in the database thread; an SQLite failure is one StoreUnavailable."""
        if self._executor is None:
            raise StoreUnavailable("the database is not open")
        if self._lost is not None:
            raise StoreUnavailable(self._lost)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except sqlite3.Error as exc:
            raise StoreUnavailable(_cause(exc, self.busy_timeout)) from exc

    async def _run_write(self, fn: Callable[..., T], *args: Any) -> T:
        """_run for a call that writes: its outcome says whether the database takes writes."""
        try:
            result = await self._run(self._checked, fn, *args)
        except StoreUnavailable as exc:
            self._write_error = exc.cause
            self._write_failed_at = time.monotonic()
            raise
        # A full disk still takes the writes that need no new page (the heartbeat's): one
        # success clears a failure only once it is WRITE_FAILURE_HOLD old.
        if time.monotonic() - self._write_failed_at >= WRITE_FAILURE_HOLD:
            self._write_error = None
        return result

    @property
    def problem(self) -> str | None:
        return self._lost or self._write_error

    def _checked(self, fn: Callable[..., T], *args: Any) -> T:
        self._check_file()
        return fn(*args)

    def _check_file(self) -> None:
        """Refuse to write into a file that is no longer the database at the path: SQLite
        would go on writing into the deleted (or replaced) file, and lose it all at a restart."""
        try:
            st = os.stat(self.path)
            same = (st.st_dev, st.st_ino) == self._identity
        except FileNotFoundError:
            same = False
        if not same:
            self._lost = f"the file {self.path} was deleted or replaced; restart the server"
            log.error(
                "database file %s was deleted or replaced while the server ran: every database"
                " call is refused until a restart", self.path,
            )
            raise StoreUnavailable(self._lost)

    def subscribe(
        self, on_created: Callable[[], None], on_cancelled: Callable[[str], None]
    ) -> None:
        """Nothing to do: this process's own submits and cancels reach its runner directly,
        and the other workers on the file see them at their next heartbeat (a fraction of a
        second, FPX_HEARTBEAT_INTERVAL, on one machine)."""

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "the database is not open"
        return self._conn

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn in one write transaction, taken up front so it never has to upgrade a lock."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (a full disk) leaves the transaction open, and an error SQLite
            # rolled back itself leaves none: nothing of it may stay either way.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _grouped(
        self, run: Callable[[sqlite3.Connection, list[tuple]], list[Any]]
    ) -> GroupCommit:
        """`run(conn, calls)` for groups of calls, each group one write transaction."""
        return GroupCommit(
            lambda calls: self._run_write(self._write, lambda conn: run(conn, calls))
        )

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fpx-db")
        try:
            await self._run(self._open)
        except BaseException:
            self._executor.shutdown(wait=True)
            self._executor = None
            raise

    def _open(self) -> None:
        folder = self.path.parent
        if folder.exists() and not folder.is_dir():
            raise StoreError(f"cannot open database {self.path}: {folder} is not a directory")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=256,
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"database {self.path} cannot use WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._conn = conn
            conn.executescript(SCHEMA)  # idempotent; executescript commits on its own
            self._write(self._migrate)
            conn.executescript(INDEXES)
            st = os.stat(self.path)
            self._identity = (st.st_dev, st.st_ino)
        except sqlite3.Error as exc:
            conn.close()
            self._conn = None
            raise StoreError(f"cannot use database {self.path}: {exc}") from exc
        except BaseException:
            conn.close()
            self._conn = None
            raise

    def _migrate(self, conn: sqlite3.Connection) -> None:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            conn.executemany(
                "INSERT OR IGNORE INTO users (username) VALUES (?)", [(u,) for u in SEED_USERS]
            )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            log.info("created database %s (seeded users %s)", self.path, ", ".join(SEED_USERS))
        elif int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {row[0]}, newer than this fpx "
                f"({SCHEMA_VERSION})"
            )
        elif int(row[0]) == 1:
            for statement in MIGRATE_1_TO_2:
                conn.execute(statement)
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
            )
            log.info("migrated database %s from schema version 1 to %d", self.path,
                     SCHEMA_VERSION)

    async def close(self) -> None:
        if self._executor is None:
            return
        # Not through _run: a database found unusable is still closed.
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)
        self._executor = None

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- users --------------------------------------------------------------------------------

    async def list_users(self) -> list[User]:
        return await self._run(self._list_users)

    def _list_users(self) -> list[User]:
        rows = self.conn.execute("SELECT username FROM users ORDER BY rowid").fetchall()
        return [User(username=r[0]) for r in rows]

    async def get_user(self, username: str) -> User | None:
        return await self._run(self._get_user, username)

    def _get_user(self, username: str) -> User | None:
        row = self.conn.execute(
            "SELECT username FROM users WHERE username = ?", (username,)
        ).fetchone()
        return User(username=row[0]) if row else None

    # -- items --------------------------------------------------------------------------------

    async def create_item(self, name: str, description: str | None) -> Item:
        return await self._run_write(self._create_item, name, description)

    def _create_item(self, name: str, description: str | None) -> Item:
        row = self.conn.execute(
            "INSERT INTO items (name, description, created_at) VALUES (?, ?, ?) "
            "RETURNING id, name, description, created_at",
            (name, description, time.time()),
        ).fetchone()
        return _item(row)

    async def get_item(self, item_id: int) -> Item | None:
        return await self._run(self._get_item, item_id)

    def _get_item(self, item_id: int) -> Item | None:
        row = self.conn.execute(
            "SELECT id, name, description, created_at FROM items WHERE id = ?", (item_id,)
        ).fetchone()
        return _item(row) if row else None

    async def list_items(self, limit: int, offset: int) -> list[Item]:
        return await self._run(self._list_items, limit, offset)

    def _list_items(self, limit: int, offset: int) -> list[Item]:
        rows = self.conn.execute(
            "SELECT id, name, description, created_at FROM items ORDER BY id LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        return [_item(r) for r in rows]

    async def delete_item(self, item_id: int) -> bool:
        return await self._run_write(self._delete_item, item_id)

    def _delete_item(self, item_id: int) -> bool:
        return self.conn.execute("DELETE FROM items WHERE id = ?", (item_id,)).rowcount > 0

    # -- tasks --------------------------------------------------------------------------------

    async def create_task(
        self,
        task_id: str,
        job: str,
        args: dict[str, Any],
        max_unfinished: int,
        time_limit: float | None = None,
    ) -> Task:
        return await self._create(task_id, job, json.dumps(args), max_unfinished, time_limit)

    def _create_tasks(self, conn: sqlite3.Connection, calls: list[tuple]) -> list[Task | Exception]:
        # Bounded by the limit + 1, so a full queue costs the same as a nearly full one.
        unfinished = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM tasks WHERE status IN ('pending', 'running')"
            " LIMIT ?)",
            (max(call[3] for call in calls),),
        ).fetchone()[0]
        results: list[Task | Exception] = []
        for task_id, job, args, max_unfinished, time_limit in calls:
            if unfinished >= max_unfinished:
                results.append(QueueFullError(min(unfinished, max_unfinished)))
                continue
            wait_time = json.loads(args).get("wait_time", 0) if job == "sleep" else 0
            try:
                row = conn.execute(
                    "INSERT INTO tasks (id, status, job, args, wait_time, time_limit, created_at)"
                    f" VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {TASK_COLUMNS}",
                    (task_id, TaskStatus.PENDING.value, job, args, wait_time, time_limit,
                     time.time()),
                ).fetchone()
            except sqlite3.IntegrityError:
                results.append(DuplicateTaskError(task_id))
                continue
            unfinished += 1
            results.append(_task(row))
        return results

    async def get_task(self, task_id: str) -> Task | None:
        return await self._run(self._get_task, task_id)

    def _get_task(self, task_id: str) -> Task | None:
        row = self.conn.execute(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,)
        ).fetchone()
        return _task(row) if row else None

    async def list_tasks(
        self, status: TaskStatus | None, limit: int, job: str | None = None
    ) -> list[Task]:
        return await self._run(self._list_tasks, status, limit, job)

    def _list_tasks(self, status: TaskStatus | None, limit: int, job: str | None) -> list[Task]:
        where = [(c, v) for c, v in (("status", status), ("job", job)) if v is not None]
        sql = (
            f"SELECT {TASK_COLUMNS} FROM tasks "
            + ("WHERE " + " AND ".join(f"{c} = ?" for c, _ in where) + " " if where else "")
            + "ORDER BY created_at DESC, rowid DESC LIMIT ?"
        )
        args = (*(str(v) for _, v in where), limit)
        return [_task(r) for r in self.conn.execute(sql, args).fetchall()]

    async def count_tasks(self) -> dict[TaskStatus, int]:
        return await self._run(self._count_tasks)

    def _count_tasks(self) -> dict[TaskStatus, int]:
        counts = dict.fromkeys(TaskStatus, 0)
        for status, n in self.conn.execute("SELECT status, count(*) FROM tasks GROUP BY status"):
            counts[TaskStatus(status)] = n
        return counts

    async def count_tasks_by_job(self) -> dict[tuple[TaskStatus, str], int]:
        return await self._run(self._count_tasks_by_job)

    def _count_tasks_by_job(self) -> dict[tuple[TaskStatus, str], int]:
        rows = self.conn.execute("SELECT status, job, count(*) FROM tasks GROUP BY status, job")
        return {(TaskStatus(status), job): n for status, job, n in rows}

    async def claim_tasks(
        self, worker: str, limit: int, task_id: str | None = None,
        jobs: Collection[str] | None = None,
    ) -> list[Task]:
        """Atomically move up to `limit` pending tasks (oldest first, or just `task_id`), of
        the given jobs only when `jobs` is given, to running under `worker`. A task is claimed
        by exactly one worker."""
        if limit <= 0 or (jobs is not None and not jobs):
            return []
        if task_id is not None:
            return await self._claim(worker, task_id)
        return await self._run_write(self._claim_tasks, worker, limit, jobs)

    def _claim_tasks(self, worker: str, limit: int, jobs: Collection[str] | None) -> list[Task]:
        only = "" if jobs is None else f"AND job IN ({','.join('?' * len(jobs))}) "
        rows = self.conn.execute(
            "UPDATE tasks SET status = 'running', worker = ?, started_at = ?, "
            "attempts = attempts + 1 WHERE id IN (SELECT id FROM tasks WHERE status = "
            f"'pending' {only}ORDER BY created_at, rowid LIMIT ?) "
            f"RETURNING {TASK_COLUMNS}",
            (worker, time.time(), *(jobs or ()), limit),
        ).fetchall()
        return [_task(r) for r in rows]

    def _claim_each(
        self, conn: sqlite3.Connection, calls: list[tuple[str, str]]
    ) -> list[list[Task]]:
        now = time.time()
        return [
            [_task(r) for r in conn.execute(
                "UPDATE tasks SET status = 'running', worker = ?, started_at = ?, "
                "attempts = attempts + 1 WHERE id = ? AND status = 'pending' "
                f"RETURNING {TASK_COLUMNS}",
                (worker, now, task_id),
            ).fetchall()]
            for worker, task_id in calls
        ]

    async def record_progress(
        self, worker: str, updates: list[tuple[str, float, str | None]]
    ) -> None:
        """Write the progress jobs reported, in one transaction, for the tasks still running
        under `worker` (a task that ended meanwhile keeps what its end wrote)."""
        if updates:
            await self._run_write(self._write, lambda conn: conn.executemany(
                "UPDATE tasks SET progress = ?, message = coalesce(?, message) "
                "WHERE id = ? AND status = 'running' AND worker = ?",
                [(progress, message, task_id, worker) for task_id, progress, message in updates],
            ))

    async def finish_task(
        self,
        task_id: str,
        worker: str,
        status: TaskStatus,
        progress: float,
        result: Any = None,
        error: str | None = None,
        message: str | None = None,
    ) -> bool:
        """Record how a running task ended; False when it is no longer this worker's to end
        (cancelled meanwhile, or interrupted by a worker that took this one for dead).
        `result` is any JSON value (None for none); `message` keeps the last one if None."""
        encoded = None if result is None else json.dumps(result, allow_nan=False)
        return await self._finish(task_id, worker, status, progress, encoded, error, message)

    def _finish_each(self, conn: sqlite3.Connection, calls: list[tuple]) -> list[bool]:
        now = time.time()
        return [
            conn.execute(
                "UPDATE tasks SET status = ?, finished_at = ?, progress = ?, result = ?, "
                "error = ?, message = coalesce(?, message) "
                "WHERE id = ? AND status = 'running' AND worker = ?",
                (status.value, now, progress, result, error, message, task_id, worker),
            ).rowcount > 0
            for task_id, worker, status, progress, result, error, message in calls
        ]

    async def cancel_task(self, task_id: str) -> tuple[Task | None, bool]:
        """Cancel a pending or running task. Returns the task as it now is (None if unknown)
        and whether this call cancelled it."""
        return await self._run_write(self._cancel_task, task_id)

    def _cancel_task(self, task_id: str) -> tuple[Task | None, bool]:
        def cancel(conn: sqlite3.Connection) -> tuple[Task | None, bool]:
            task = self._get_task(task_id)
            if task is None or task.status not in UNFINISHED:
                return task, False
            row = conn.execute(
                "UPDATE tasks SET status = 'cancelled', finished_at = ? "
                f"WHERE id = ? RETURNING {TASK_COLUMNS}",
                (time.time(), task_id),
            ).fetchone()
            return _task(row), True

        return self._write(cancel)

    async def delete_task(self, task_id: str) -> tuple[Task | None, bool]:
        """Remove a finished task. Returns the task as it was (None if unknown) and whether
        this call removed it (False for a pending or running one, which stays)."""
        return await self._run_write(self._delete_task, task_id)

    def _delete_task(self, task_id: str) -> tuple[Task | None, bool]:
        def delete(conn: sqlite3.Connection) -> tuple[Task | None, bool]:
            task = self._get_task(task_id)
            if task is None or task.status in UNFINISHED:
                return task, False
            conn.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
            return task, True

        return self._write(delete)

    async def prune_tasks(self, finished_before: float, limit: int) -> int:
        """Remove up to `limit` tasks that finished before `finished_before` (Unix seconds),
        oldest first, in one transaction; how many it removed. Never an unfinished task."""
        if limit <= 0:
            return 0
        return await self._run_write(self._prune_tasks, finished_before, limit)

    def _prune_tasks(self, finished_before: float, limit: int) -> int:
        # The subquery walks the partial index tasks_finished: its WHERE is the index's.
        return self.conn.execute(
            "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks "
            "WHERE status NOT IN ('pending', 'running') AND finished_at < ? "
            "ORDER BY finished_at LIMIT ?)",
            (finished_before, limit),
        ).rowcount

    async def heartbeat(self, worker: str, running: list[str]) -> list[str]:
        """Renew the worker's lease; return which of its `running` tasks it no longer owns
        (cancelled through another worker, interrupted, or deleted after either), so it stops
        them."""
        return await self._run_write(self._heartbeat, worker, running)

    def _heartbeat(self, worker: str, running: list[str]) -> list[str]:
        now = time.time()
        conn = self.conn
        conn.execute(
            "INSERT INTO workers (id, pid, host, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            (worker, self.pid, self.host, now, now),
        )
        if not running:
            return []
        marks = ",".join("?" * len(running))
        # The tasks it still owns, not those it lost: a task deleted (cancelled, then deleted
        # before this beat) is in no row, and its job must stop too.
        owned = {r[0] for r in conn.execute(
            f"SELECT id FROM tasks WHERE id IN ({marks}) AND status = 'running' AND worker = ?",
            (*running, worker),
        )}
        return [task_id for task_id in running if task_id not in owned]

    async def recover(self, worker: str, lease_timeout: float) -> Recovery:
        """End the running tasks of dead workers as interrupted and forget those workers.

        A worker is dead when it has not renewed its lease for `lease_timeout` plus the busy
        timeout (a lock may hold a live worker up that long), or at once when it ran on this
        machine and its process is gone. Tasks of live workers are never touched; pending tasks
        need nothing: any worker claims them.
        """
        return await self._run_write(self._recover, worker, lease_timeout)

    def _recover(self, worker: str, lease_timeout: float) -> Recovery:
        def recover(conn: sqlite3.Connection) -> Recovery:
            now = time.time()
            live: list[str] = []
            dead: list[str] = []
            for wid, pid, host, beat in conn.execute(
                "SELECT id, pid, host, heartbeat_at FROM workers"
            ).fetchall():
                gone = host == self.host and pid != self.pid and not _pid_alive(pid)
                # A lock held by another process stops every worker's heartbeat for up to the
                # busy timeout: only silence beyond that as well means the worker is dead.
                silent = now - beat > lease_timeout + self.busy_timeout
                if wid != worker and (gone or silent):
                    dead.append(wid)
                else:
                    live.append(wid)
            live.append(worker)
            marks = ",".join("?" * len(live))
            # Progress stays where the job last reported it.
            rows = conn.execute(
                "UPDATE tasks SET status = 'interrupted', finished_at = ?, "
                "error = 'interrupted: the worker running it (' || coalesce(worker, '?') || "
                "') stopped before it finished' "
                f"WHERE status = 'running' AND (worker IS NULL OR worker NOT IN ({marks})) "
                "RETURNING id",
                (now, *live),
            ).fetchall()
            if dead:
                conn.executemany("DELETE FROM workers WHERE id = ?", [(w,) for w in dead])
            return Recovery(interrupted=[r[0] for r in rows], dead_workers=dead)

        return self._write(recover)

    async def remove_worker(self, worker: str) -> None:
        await self._run_write(self._remove_worker, worker)

    def _remove_worker(self, worker: str) -> None:
        self.conn.execute("DELETE FROM workers WHERE id = ?", (worker,))
