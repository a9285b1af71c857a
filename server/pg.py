"""PostgreSQL backend of the Store: any number of fpx hosts on one database.

asyncpg, through a pool of `FPX_DB_POOL_SIZE` connections per worker process (docs/postgres.md
says why this driver). Each state change of a task is one statement; claims take pending tasks
with `FOR UPDATE SKIP LOCKED`, so each is claimed by exactly one host. The three writes each
task makes (create, claim by id, finish) are grouped under load, each group one statement
(server/groupcommit.py). Triggers NOTIFY the channel `fpx_tasks` of every statement that
inserts tasks and of every running task cancelled; one more connection LISTENs, and wakes this
host's runner (the heartbeat stays as the fallback). Times come from
the database's clock, so hosts whose clocks differ still agree on leases.

A dead host is found by its lease alone: no pid of another machine can be checked. A database
that was unreachable for a while (all leases lapsed meanwhile) judges nobody dead until this
host has been back for a full lease, so that the others have had the time to renew theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import socket
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

import asyncpg
import asyncpg.exceptions as pgerr

from server.dburl import DatabaseUrl
from server.groupcommit import GroupCommit
from server.store import (
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

CHANNEL = "fpx_tasks"
# What pg_stat_activity shows of fpx's connections.
APPLICATION_NAME = "fpx"
# pg_advisory_xact_lock key held while the schema is created or migrated ("fpx" in ASCII).
MIGRATION_LOCK = 0x667078
NOW = "extract(epoch from clock_timestamp())"
# Seconds between pings of the LISTEN connection (a peer that vanished sends no FIN), and the
# longest wait between attempts to open it again.
LISTEN_PING = 10.0
LISTEN_RETRY_MAX = 5.0
SEED_USERS = ("Rick", "Morty")

# Each entry moves the schema one version up; the database's version is the number applied.
MIGRATIONS: tuple[str, ...] = (
    # 1: everything the SQLite backend holds. args and result are JSON text, as there.
    f"""
    CREATE TABLE users (username text PRIMARY KEY, seq bigserial NOT NULL);
    INSERT INTO users (username) VALUES {", ".join(f"('{u}')" for u in SEED_USERS)};
    CREATE TABLE items (
        id bigserial PRIMARY KEY,
        name text NOT NULL,
        description text,
        created_at float8 NOT NULL
    );
    CREATE TABLE tasks (
        id text PRIMARY KEY,
        seq bigserial NOT NULL,
        status text NOT NULL,
        job text NOT NULL,
        args text NOT NULL,
        created_at float8 NOT NULL,
        started_at float8,
        finished_at float8,
        progress float8 NOT NULL DEFAULT 0,
        message text,
        result text,
        error text,
        worker text,
        attempts integer NOT NULL DEFAULT 0,
        time_limit float8
    );
    CREATE INDEX tasks_created ON tasks (created_at, seq);
    CREATE INDEX tasks_pending ON tasks (created_at, seq) WHERE status = 'pending';
    CREATE INDEX tasks_running ON tasks (worker) WHERE status = 'running';
    CREATE INDEX tasks_job ON tasks (job, created_at);
    CREATE INDEX tasks_finished ON tasks (finished_at)
        WHERE status NOT IN ('pending', 'running');
    CREATE TABLE workers (
        id text PRIMARY KEY,
        host text NOT NULL,
        pid integer NOT NULL,
        started_at float8 NOT NULL,
        heartbeat_at float8 NOT NULL
    );
    CREATE FUNCTION fpx_notify_created() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('{CHANNEL}', 'created'); RETURN NULL; END $$;
    CREATE TRIGGER tasks_notify_created AFTER INSERT ON tasks
        FOR EACH STATEMENT EXECUTE FUNCTION fpx_notify_created();
    CREATE FUNCTION fpx_notify_cancelled() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('{CHANNEL}', 'cancelled ' || NEW.id); RETURN NULL; END $$;
    CREATE TRIGGER tasks_notify_cancelled AFTER UPDATE OF status ON tasks FOR EACH ROW
        WHEN (NEW.status = 'cancelled' AND OLD.status = 'running')
        EXECUTE FUNCTION fpx_notify_cancelled();
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS = (
    "id", "status", "job", "args", "created_at", "started_at", "finished_at", "progress",
    "message", "result", "error", "worker", "attempts", "time_limit",
)
TASK_COLUMNS = ", ".join(COLUMNS)
T_COLUMNS = ", ".join(f"t.{c}" for c in COLUMNS)

# Failures of the database, not of the query: the call changed nothing, the API answers 503.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,  # the connection was closed under the call
    pgerr.PostgresConnectionError,  # class 08
    pgerr.OperatorInterventionError,  # class 57: shut down, terminated, starting, cancelled
    pgerr.InsufficientResourcesError,  # class 53: disk full, too many connections
    pgerr.TransactionRollbackError,  # class 40: a deadlock or serialization failure
    pgerr.LockNotAvailableError,
    pgerr.ReadOnlySQLTransactionError,  # a standby after a fail-over
)
# Of those, the ones after which a new connection may well succeed at once.
CONNECTION_LOST = (
    OSError, asyncpg.InterfaceError, pgerr.PostgresConnectionError, pgerr.AdminShutdownError,
)


def _task(row: asyncpg.Record) -> Task:
    return Task(
        id=row["id"],
        status=TaskStatus(row["status"]),
        job=row["job"],
        args=json.loads(row["args"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        progress=row["progress"],
        message=row["message"],
        result=None if row["result"] is None else json.loads(row["result"]),
        error=row["error"],
        worker=row["worker"],
        attempts=row["attempts"],
        time_limit=row["time_limit"],
    )


def _item(row: asyncpg.Record) -> Item:
    return Item(id=row["id"], name=row["name"], description=row["description"],
                created_at=row["created_at"])


def _cause(exc: BaseException, timeout: float) -> str:
    """What a failure to reach or use PostgreSQL means, in a few words (never the URL)."""
    if isinstance(exc, ValueError):  # asyncpg's ClientConfigurationError too
        return f"the URL is not valid ({exc})"
    if isinstance(exc, TimeoutError):
        return f"no answer from PostgreSQL within {timeout:g} s (FPX_DB_BUSY_TIMEOUT)"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror or exc})"
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, OSError) and "Connect call failed" in str(exc)
    ):
        return "connection refused (is PostgreSQL running there?)"
    if isinstance(exc, pgerr.CannotConnectNowError):
        return "PostgreSQL is starting up or shutting down"
    if isinstance(exc, pgerr.AdminShutdownError | asyncpg.InterfaceError
                  | pgerr.ConnectionDoesNotExistError):
        return f"the connection to PostgreSQL was lost ({exc})"
    return str(exc) or type(exc).__name__


async def _keep(conn: asyncpg.Connection) -> None:
    """A pooled connection given back needs no reset (asyncpg still rolls back a
    transaction left open)."""


class PostgresStore:
    """The Store on one PostgreSQL database, shared by any number of hosts."""

    def __init__(
        self, url: DatabaseUrl, *, pool_size: int = 10, timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        # Bounds every call (a connection from the pool, and the statements): past it, 503.
        # 0 (SQLite's "never wait for a lock") would refuse every call: the default instead.
        self.timeout = timeout if timeout > 0 else 10.0
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncio.Task[None] | None = None
        self._on_created: Callable[[], None] | None = None
        # Server pids of this store's pooled connections: a task this host inserted is not news
        # to it (its runner claims it as the request ends, or notes the wake-up itself).
        self._own_backends: set[int] = set()
        self._on_cancelled: Callable[[str], None] | None = None
        # The three writes each task makes (create, claim by id, finish), each kind grouped
        # under load into one statement: one commit, one WAL flush, for many calls.
        self._create = GroupCommit(self._create_tasks)
        self._claim = GroupCommit(self._claim_each)
        self._finish = GroupCommit(self._finish_each)
        self._problem: str | None = None
        # monotonic time since which calls succeed again after a failure (see recover).
        self._back_since = -math.inf

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def problem(self) -> str | None:
        return self._problem

    async def _call(
        self, fn: Callable[[asyncpg.Connection], Awaitable[T]], *, retry: bool = False
    ) -> T:
        """fn on a pooled connection, bounded by the timeout; a failure of the database is one
        StoreUnavailable. `retry`: once more on a new connection when the first was lost (for
        calls that write nothing, or that are safe to repeat)."""
        if self._pool is None:
            raise StoreUnavailable("the database is not open")
        pool = self._pool
        for attempt in (1, 2):
            try:
                async with asyncio.timeout(self.timeout):
                    async with pool.acquire() as conn:
                        result = await fn(conn)
            except UNAVAILABLE as exc:
                if isinstance(exc, CONNECTION_LOST):
                    # The other pooled connections most likely went with it: new ones for all.
                    await pool.expire_connections()
                    if retry and attempt == 1:
                        continue
                self._failed(_cause(exc, self.timeout))
                raise StoreUnavailable(_cause(exc, self.timeout)) from exc
            if self._problem is not None:
                log.info("database reachable again")
                self._problem = None
                self._back_since = time.monotonic()
            return result
        raise AssertionError("unreachable")

    def _failed(self, cause: str) -> None:
        if self._problem is None:
            log.warning("database unavailable: %s", cause)
        self._problem = cause

    async def open(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                self._pool = await asyncpg.create_pool(
                    self.url.secret,
                    # Connections open as calls need them, up to the pool size, and close
                    # after a minute unused. No floor: asyncpg would keep reopening one in the
                    # background while the server is down (and log a traceback each time);
                    # the next call opens it instead, or answers 503.
                    min_size=0,
                    max_size=self.pool_size,
                    max_inactive_connection_lifetime=60.0,
                    server_settings={"application_name": APPLICATION_NAME},
                    # No session state is ever left on a pooled connection (LISTEN has its
                    # own, locks are the transaction's): skip the reset queries each release
                    # costs by default, a round-trip per call (bench/pg_drivers.py).
                    reset=_keep,
                    init=self._track,
                )
                async with self._pool.acquire() as conn:
                    await self._migrate(conn)
                # Listening before open() returns: no task created after it goes unnoticed.
                listener = await self._open_listener()
        except StoreError:
            await self._abandon()
            raise
        except (*UNAVAILABLE, pgerr.PostgresError, ValueError) as exc:
            await self._abandon()
            raise StoreError(
                f"cannot use PostgreSQL at {self.url}: {_cause(exc, self.timeout)}"
            ) from None
        except BaseException:
            await self._abandon()
            raise
        self._listener = asyncio.create_task(self._listen(*listener), name="fpx-db-listen")

    async def _abandon(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None

    async def _migrate(self, conn: asyncpg.Connection) -> None:
        """Create or migrate the schema, one host at a time (several starting at once wait on
        the advisory lock, then find the work done)."""
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS fpx_schema_version ("
                " version integer PRIMARY KEY,"
                f" applied_at float8 NOT NULL DEFAULT {NOW})"
            )
            current = await conn.fetchval(
                "SELECT coalesce(max(version), 0) FROM fpx_schema_version"
            )
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"PostgreSQL database {self.url} has schema version {current}, newer than"
                    f" this fpx knows ({SCHEMA_VERSION}): upgrade fpx to use it"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                await conn.execute(MIGRATIONS[version - 1])
                await conn.execute(
                    "INSERT INTO fpx_schema_version (version) VALUES ($1)", version
                )
            if current < SCHEMA_VERSION:
                log.info("database %s: schema version %d -> %d", self.url, current,
                         SCHEMA_VERSION)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), self.timeout)
            except (*UNAVAILABLE, pgerr.PostgresError):
                pool.terminate()

    # -- notifications ------------------------------------------------------------------------

    def subscribe(
        self, on_created: Callable[[], None], on_cancelled: Callable[[str], None]
    ) -> None:
        """Be told of each new task and of each running task cancelled, by any host."""
        self._on_created = on_created
        self._on_cancelled = on_cancelled

    async def _track(self, conn: asyncpg.Connection) -> None:
        """Note a new pooled connection's server pid, for as long as it is open."""
        pid = conn.get_server_pid()
        self._own_backends.add(pid)
        conn.add_termination_listener(lambda _: self._own_backends.discard(pid))

    def _notified(self, conn: object, pid: int, channel: str, payload: str) -> None:
        what, _, task_id = payload.partition(" ")
        if what == "created" and self._on_created is not None and pid not in self._own_backends:
            self._on_created()
        elif what == "cancelled" and task_id and self._on_cancelled is not None:
            self._on_cancelled(task_id)

    async def _open_listener(self) -> tuple[asyncpg.Connection, asyncio.Event]:
        """A connection of its own that LISTENs, and an event set when it is lost."""
        conn = await asyncpg.connect(
            self.url.secret, timeout=self.timeout,
            server_settings={"application_name": APPLICATION_NAME},
        )
        try:
            closed = asyncio.Event()
            conn.add_termination_listener(lambda _: closed.set())
            await conn.add_listener(CHANNEL, self._notified)
        except BaseException:
            conn.terminate()
            raise
        return conn, closed

    async def _listen(self, conn: asyncpg.Connection | None, closed: asyncio.Event) -> None:
        """Keep a LISTEN connection open, opening it again whenever it is lost."""
        delay = 0.1
        lost = False
        while True:
            if conn is None:
                try:
                    conn, closed = await self._open_listener()
                except (*UNAVAILABLE, pgerr.PostgresError) as exc:
                    cause = _cause(exc, self.timeout)
                else:
                    delay = 0.1
                    if lost:
                        lost = False
                        log.info("task notifications are back")
                        if self._on_created is not None:
                            self._on_created()  # a task created meanwhile: look for it now
            if conn is not None:
                try:
                    while not closed.is_set():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(closed.wait(), LISTEN_PING)
                        if not closed.is_set():
                            await conn.execute("SELECT 1", timeout=self.timeout)
                    cause = "the connection was closed"
                except (*UNAVAILABLE, pgerr.PostgresError) as exc:
                    cause = _cause(exc, self.timeout)
                finally:
                    conn.terminate()
                conn = None
            if not lost:
                lost = True
                log.warning("task notifications lost (%s); the heartbeat stands in", cause)
            await asyncio.sleep(delay)
            delay = min(delay * 2, LISTEN_RETRY_MAX)

    # -- users --------------------------------------------------------------------------------

    async def list_users(self) -> list[User]:
        rows = await self._call(
            lambda c: c.fetch("SELECT username FROM users ORDER BY seq"), retry=True
        )
        return [User(username=r[0]) for r in rows]

    async def get_user(self, username: str) -> User | None:
        name = await self._call(
            lambda c: c.fetchval("SELECT username FROM users WHERE username = $1", username),
            retry=True,
        )
        return User(username=name) if name is not None else None

    # -- items --------------------------------------------------------------------------------

    async def create_item(self, name: str, description: str | None) -> Item:
        row = await self._call(lambda c: c.fetchrow(
            f"INSERT INTO items (name, description, created_at) VALUES ($1, $2, {NOW}) "
            "RETURNING id, name, description, created_at",
            name, description,
        ))
        return _item(row)

    async def get_item(self, item_id: int) -> Item | None:
        row = await self._call(lambda c: c.fetchrow(
            "SELECT id, name, description, created_at FROM items WHERE id = $1", item_id
        ), retry=True)
        return _item(row) if row else None

    async def list_items(self, limit: int, offset: int) -> list[Item]:
        rows = await self._call(lambda c: c.fetch(
            "SELECT id, name, description, created_at FROM items ORDER BY id LIMIT $1 OFFSET $2",
            limit, offset,
        ), retry=True)
        return [_item(r) for r in rows]

    async def delete_item(self, item_id: int) -> bool:
        done = await self._call(lambda c: c.execute("DELETE FROM items WHERE id = $1", item_id))
        return done != "DELETE 0"

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

    async def _create_tasks(self, calls: list[tuple]) -> list[Task | Exception]:
        """Insert a group of submissions in one statement: one commit, and one NOTIFY from
        the statement's trigger, for all of them (server/groupcommit.py). The count of
        unfinished tasks is bounded by the largest limit, so a full queue costs the same as a
        nearly full one; the n-th call of the group is admitted while n <= its limit less that
        count. Hosts submitting at the same moment may each see room for one more: the limit
        can be passed by as many as submit at once."""
        ids, jobs, args, limits, time_limits = (list(column) for column in zip(*calls, strict=True))
        rows = await self._call(lambda c: c.fetch(
            "WITH queued AS (SELECT count(*) AS n FROM (SELECT 1 FROM tasks "
            "WHERE status IN ('pending', 'running') LIMIT $5) u), "
            "added AS (INSERT INTO tasks (id, status, job, args, time_limit, created_at) "
            f"SELECT c.id, 'pending', c.job, c.args, c.time_limit, {NOW} FROM unnest("
            "$1::text[], $2::text[], $3::text[], $4::float8[], $6::int[]) WITH ORDINALITY "
            "AS c(id, job, args, time_limit, max_unfinished, n) "
            "WHERE c.n <= c.max_unfinished - (SELECT n FROM queued) ORDER BY c.n "
            f"ON CONFLICT (id) DO NOTHING RETURNING {TASK_COLUMNS}) "
            f"SELECT queued.n AS queued, {', '.join(f'added.{c}' for c in COLUMNS)} "
            "FROM queued LEFT JOIN added ON true",
            ids, jobs, args, time_limits, max(limits), limits,
        ))
        queued = rows[0]["queued"]
        added = {row["id"]: _task(row) for row in rows if row["id"] is not None}
        results: list[Task | Exception] = []
        for n, (task_id, limit) in enumerate(zip(ids, limits, strict=True), start=1):
            if n > limit - queued:
                results.append(QueueFullError(min(queued + n - 1, limit)))
            elif task_id in added:
                results.append(added.pop(task_id))  # a second call with the same id: 409
            else:
                results.append(DuplicateTaskError(task_id))
        return results

    async def get_task(self, task_id: str) -> Task | None:
        row = await self._call(
            lambda c: c.fetchrow(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1", task_id),
            retry=True,
        )
        return _task(row) if row else None

    async def list_tasks(
        self, status: TaskStatus | None, limit: int, job: str | None = None
    ) -> list[Task]:
        rows = await self._call(lambda c: c.fetch(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE ($1::text IS NULL OR status = $1) "
            "AND ($2::text IS NULL OR job = $2) ORDER BY created_at DESC, seq DESC LIMIT $3",
            None if status is None else status.value, job, limit,
        ), retry=True)
        return [_task(r) for r in rows]

    async def count_tasks(self) -> dict[TaskStatus, int]:
        rows = await self._call(
            lambda c: c.fetch("SELECT status, count(*) FROM tasks GROUP BY status"), retry=True
        )
        counts = dict.fromkeys(TaskStatus, 0)
        for status, n in rows:
            counts[TaskStatus(status)] = n
        return counts

    async def count_tasks_by_job(self) -> dict[tuple[TaskStatus, str], int]:
        rows = await self._call(
            lambda c: c.fetch("SELECT status, job, count(*) FROM tasks GROUP BY status, job"),
            retry=True,
        )
        return {(TaskStatus(status), job): n for status, job, n in rows}

    async def claim_tasks(
        self, worker: str, limit: int, task_id: str | None = None,
        jobs: Collection[str] | None = None,
    ) -> list[Task]:
        """Atomically move up to `limit` pending tasks (oldest first, or just `task_id`), of
        the given jobs only when `jobs` is given, to running under `worker`. SKIP LOCKED: a
        task another host is claiming right now is passed over, never claimed twice."""
        if limit <= 0 or (jobs is not None and not jobs):
            return []
        if task_id is not None:
            return await self._claim(worker, task_id)
        rows = await self._call(lambda c: c.fetch(
            "WITH picked AS (SELECT id FROM tasks WHERE status = 'pending' "
            "AND ($3::text[] IS NULL OR job = ANY($3)) ORDER BY created_at, seq LIMIT $2 "
            "FOR UPDATE SKIP LOCKED) "
            f"UPDATE tasks t SET status = 'running', worker = $1, started_at = {NOW}, "
            f"attempts = t.attempts + 1 FROM picked WHERE t.id = picked.id "
            f"RETURNING {T_COLUMNS}",
            worker, limit, None if jobs is None else list(jobs),
        ))
        return sorted((_task(r) for r in rows), key=lambda t: t.created_at)

    async def _claim_each(self, calls: list[tuple]) -> list[list[Task]]:
        """Claims of given tasks (a worker, a task id each), in one statement; a task
        asked for twice goes to the first call."""
        workers, ids = (list(column) for column in zip(*calls, strict=True))
        rows = await self._call(lambda c: c.fetch(
            f"UPDATE tasks t SET status = 'running', worker = c.worker, started_at = {NOW}, "
            "attempts = t.attempts + 1 FROM (SELECT DISTINCT ON (id) id, worker FROM "
            "unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(id, worker, n) "
            "ORDER BY id, n) c WHERE t.id = c.id AND t.status = 'pending' "
            f"RETURNING {T_COLUMNS}",
            ids, workers,
        ))
        claimed = {row["id"]: _task(row) for row in rows}
        return [[claimed.pop(task_id)] if task_id in claimed else [] for task_id in ids]

    async def record_progress(
        self, worker: str, updates: list[tuple[str, float, str | None]]
    ) -> None:
        """Write the progress jobs reported, in one transaction, for the tasks still running
        under `worker` (a task that ended meanwhile keeps what its end wrote)."""
        if updates:
            await self._call(lambda c: c.executemany(
                "UPDATE tasks SET progress = $1, message = coalesce($2, message) "
                "WHERE id = $3 AND status = 'running' AND worker = $4",
                [(progress, message, task_id, worker) for task_id, progress, message in updates],
            ), retry=True)

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
        (cancelled meanwhile, or interrupted by a host that took this one for dead)."""
        encoded = None if result is None else json.dumps(result, allow_nan=False)
        return await self._finish(task_id, worker, status.value, progress, encoded, error,
                                  message)

    async def _finish_each(self, calls: list[tuple]) -> list[bool]:
        """Ends of running tasks, in one statement. Of several calls for one task, only the
        first that names its worker can end it."""
        columns = [list(column) for column in zip(*calls, strict=True)]
        rows = await self._call(lambda c: c.fetch(
            f"UPDATE tasks t SET status = c.status, finished_at = {NOW}, "
            "progress = c.progress, result = c.result, error = c.error, "
            "message = coalesce(c.message, t.message) FROM (SELECT DISTINCT ON (id, worker) * "
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], "
            "$6::text[], $7::text[]) WITH ORDINALITY "
            "AS u(id, worker, status, progress, result, error, message, n) "
            "ORDER BY id, worker, n) c "
            "WHERE t.id = c.id AND t.status = 'running' AND t.worker = c.worker "
            "RETURNING t.id, t.worker",
            *columns,
        ))
        ended = {(row["id"], row["worker"]) for row in rows}
        results = []
        for task_id, worker, *_ in calls:
            results.append((task_id, worker) in ended)
            ended.discard((task_id, worker))
        return results

    async def cancel_task(self, task_id: str) -> tuple[Task | None, bool]:
        """Cancel a pending or running task. Returns the task as it now is (None if unknown)
        and whether this call cancelled it. A trigger tells the host running it."""
        return await self._change_task(
            f"UPDATE tasks SET status = 'cancelled', finished_at = {NOW} "
            f"WHERE id = $1 AND status IN ('pending', 'running') RETURNING {TASK_COLUMNS}",
            task_id,
        )

    async def delete_task(self, task_id: str) -> tuple[Task | None, bool]:
        """Remove a finished task. Returns the task as it was (None if unknown) and whether
        this call removed it (False for a pending or running one, which stays)."""
        return await self._change_task(
            "DELETE FROM tasks WHERE id = $1 AND status NOT IN ('pending', 'running') "
            f"RETURNING {TASK_COLUMNS}",
            task_id,
        )

    async def _change_task(self, statement: str, task_id: str) -> tuple[Task | None, bool]:
        """Run `statement` (which returns the task it changed) on one task; when it changed
        nothing, the task as it is (None if unknown). Whether it changed the task, too."""
        async def change(conn: asyncpg.Connection) -> tuple[Task | None, bool]:
            row = await conn.fetchrow(statement, task_id)
            if row is not None:
                return _task(row), True
            row = await conn.fetchrow(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1", task_id)
            return (_task(row) if row else None), False

        return await self._call(change)

    async def prune_tasks(self, finished_before: float, limit: int) -> int:
        """Remove up to `limit` tasks that finished before `finished_before` (Unix seconds),
        oldest first, in one statement; how many it removed. Never an unfinished task. SKIP
        LOCKED: hosts pruning at once share the work instead of waiting on each other."""
        if limit <= 0:
            return 0
        done = await self._call(lambda c: c.execute(
            "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks "
            "WHERE status NOT IN ('pending', 'running') AND finished_at < $1 "
            "ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            finished_before, limit,
        ), retry=True)
        return int(done.rpartition(" ")[2])

    async def heartbeat(self, worker: str, running: list[str]) -> list[str]:
        """Renew the worker's lease; return which of its `running` tasks it no longer owns
        (cancelled through another host, interrupted, or deleted after either), so it stops
        them."""
        # One statement, one round-trip: the renewal (a data-modifying WITH runs whether or not
        # its output is read) and the tasks it still owns, not those it lost (a deleted task is
        # in no row). The lease is stamped by the database's clock as the statement runs.
        rows = await self._call(lambda c: c.fetch(
            "WITH renewal AS (INSERT INTO workers (id, host, pid, started_at, heartbeat_at) "
            f"VALUES ($1, $2, $3, {NOW}, {NOW}) "
            "ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at) "
            "SELECT id FROM tasks WHERE id = ANY($4::text[]) "
            "AND status = 'running' AND worker = $1",
            worker, self.host, self.pid, running,
        ), retry=True)
        owned = {r[0] for r in rows}
        return [task_id for task_id in running if task_id not in owned]

    async def recover(self, worker: str, lease_timeout: float) -> Recovery:
        """End the running tasks of dead workers as interrupted and forget those workers.

        A worker is dead when it has not renewed its lease for `lease_timeout` by the
        database's clock. Right after the database was unreachable nobody is judged until
        this host has been back for a lease: every host's renewals failed meanwhile.
        """
        if time.monotonic() - self._back_since < lease_timeout:
            return Recovery(interrupted=[], dead_workers=[])

        async def recover(conn: asyncpg.Connection) -> Recovery:
            async with conn.transaction():
                dead = await conn.fetch(
                    f"DELETE FROM workers WHERE id <> $1 AND heartbeat_at < {NOW} - $2 "
                    "RETURNING id",
                    worker, lease_timeout,
                )
                # Progress stays where the job last reported it.
                rows = await conn.fetch(
                    f"UPDATE tasks SET status = 'interrupted', finished_at = {NOW}, "
                    "error = 'interrupted: the worker running it (' || coalesce(worker, '?') "
                    "|| ') stopped before it finished' "
                    "WHERE status = 'running' AND (worker IS NULL OR (worker <> $1 AND NOT "
                    "EXISTS (SELECT 1 FROM workers w WHERE w.id = tasks.worker))) RETURNING id",
                    worker,
                )
            return Recovery(interrupted=[r[0] for r in rows], dead_workers=[r[0] for r in dead])

        return await self._call(recover, retry=True)

    async def remove_worker(self, worker: str) -> None:
        await self._call(
            lambda c: c.execute("DELETE FROM workers WHERE id = $1", worker), retry=True
        )
