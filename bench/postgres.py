"""The one PostgreSQL server the scale-out figures share: a database of its own for each
figure, created and dropped here, and the CPU time that PostgreSQL and the other processes of a
figure use.

The server is FPX_BENCH_POSTGRES_URL's (by default the local one, trust authentication, user
postgres); the database in that URL is only where the others are created from.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.procs import BenchError
from server.dburl import redact

ADMIN_URL_ENV = "FPX_BENCH_POSTGRES_URL"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CONNECT_TIMEOUT = 5  # seconds
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV) or DEFAULT_ADMIN_URL


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def connect(url: str):
    """A psycopg connection in autocommit mode; BenchError, with the URL shown without its
    password, when there is none to be had."""
    try:
        import psycopg  # the bench extra's (procrastinate depends on it)
    except ImportError as exc:
        raise BenchError("psycopg is not installed: pip install -e '.[bench]'") from exc
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"PostgreSQL at {redact(url)}: {first}") from exc


@contextlib.contextmanager
def database(name: str, admin: str | None = None) -> Iterator[str]:
    """A new, empty database `name` on the server (one a broken run left is dropped first);
    its URL. Dropped at the end, with whatever is still connected to it."""
    admin = admin or admin_url()
    with connect(admin) as conn:
        from psycopg import sql  # connect() has said so if psycopg is missing

        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(admin, name)
    finally:
        with connect(admin) as conn:
            conn.execute(drop)


def query(url: str, text: str, params: tuple = ()) -> list[tuple]:
    """The rows of one statement (none for a statement that returns none)."""
    with connect(url) as conn:
        cursor = conn.execute(text, params or None)
        return cursor.fetchall() if cursor.description is not None else []


def process_cpu_s(pid: int, children: bool = False) -> float:
    """User + system CPU seconds of a live process (and of its children it reaped), from /proc;
    0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICKS


def postgres_pids(url: str) -> list[int]:
    """The backends connected to `url`'s database, and PostgreSQL's own processes (WAL writer,
    checkpointer, autovacuum...), which work for every database."""
    rows = query(
        url,
        "SELECT pid FROM pg_stat_activity WHERE (datname = current_database() "
        "OR backend_type <> 'client backend') AND pid <> pg_backend_pid()",
    )
    return [pid for (pid,) in rows]


@dataclass
class CpuMeter:
    """CPU seconds used between start() and stop(): by each named process (fpx's servers, the
    peer's worker), by PostgreSQL's processes for one database, and by the commands this
    process ran and reaped meanwhile (the load generators)."""

    postgres_url: str
    processes: dict[str, int] = field(default_factory=dict)  # name -> pid
    load_generator: bool = True
    used: dict[str, float] = field(default_factory=dict)
    _before: dict[str, float] = field(default_factory=dict)
    _pg_before: dict[int, float] = field(default_factory=dict)
    _children_before: float = 0.0

    def start(self) -> None:
        self._before = {name: process_cpu_s(pid) for name, pid in self.processes.items()}
        self._pg_before = {pid: process_cpu_s(pid) for pid in postgres_pids(self.postgres_url)}
        self._children_before = _reaped_children_s()

    def stop(self) -> None:
        for name, pid in self.processes.items():
            self.used[name] = self.used.get(name, 0.0) + process_cpu_s(pid) - self._before[name]
        # A backend that ended meanwhile is not counted: the pools keep theirs open.
        pg = sum(
            process_cpu_s(pid) - self._pg_before.get(pid, 0.0)
            for pid in postgres_pids(self.postgres_url)
        )
        self.used["PostgreSQL"] = self.used.get("PostgreSQL", 0.0) + pg
        if self.load_generator:
            self.used["load generator"] = (
                self.used.get("load generator", 0.0) + _reaped_children_s()
                - self._children_before
            )

    def describe_used(self) -> str:
        return ", ".join(f"{name} {s:.1f} s" for name, s in self.used.items())

    def describe(self, wall_s: float, cpus: int) -> str:
        total = sum(self.used.values())
        return (
            f"CPU seconds over {wall_s:.1f} s of wall time: {self.describe_used()}; "
            f"{total:.1f} s in all, {100 * total / (wall_s * cpus):.0f}% of {cpus} CPUs"
        )


def _reaped_children_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Each active backend of the database by what it waits for. The lock NOTIFY takes at commit
# (PostgreSQL's async.c: on "database 0", held until after the commit, so that notifications
# queue in commit order) is told apart from other object locks.
WAITS = """
SELECT CASE
    WHEN EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted
                 AND l.locktype = 'object' AND l.classid = 'pg_database'::regclass
                 AND l.objid = 0) THEN 'Lock: NOTIFY at commit'
    ELSE coalesce(a.wait_event_type || ': ' || a.wait_event, 'on CPU') END
FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.state = 'active' AND a.pid <> pg_backend_pid()
"""


class WaitSampler:
    """What the database's backends are doing while a figure runs: pg_stat_activity read every
    `interval` seconds on a connection of its own, each active backend counted by its wait
    event (none: on the CPU). The share of each is a profile of PostgreSQL's side."""

    def __init__(self, url: str, interval: float = 0.01) -> None:
        self.url = url
        self.interval = interval
        self.seen: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> WaitSampler:
        conn = connect(self.url)  # here, so that a failure to connect is the figure's error
        self._thread = threading.Thread(target=self._sample, args=(conn,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _sample(self, conn) -> None:
        with conn:
            while not self._stop.wait(self.interval):
                rows = conn.execute(WAITS).fetchall()
                self.seen.update(event for (event,) in rows)

    def describe(self, top: int = 4) -> str:
        total = sum(self.seen.values())
        if not total:
            return "no active backend seen"
        return ", ".join(f"{event} {100 * n / total:.0f}%"
                         for event, n in self.seen.most_common(top))
