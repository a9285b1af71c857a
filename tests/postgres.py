"""The PostgreSQL server the tests use: FPX_TEST_POSTGRES_URL, a database of each run's own.

With no server reachable the PostgreSQL tests are skipped with one line saying why; with
FPX_TEST_POSTGRES=required (as .ci/run sets) they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest

from server.dburl import redact

T = TypeVar("T")

# Read once, at import: each test runs with the FPX_* variables cleared (conftest.py).
SERVER_URL = os.environ.get(
    "FPX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRED = os.environ.get("FPX_TEST_POSTGRES", "").lower() == "required"
CONNECT_TIMEOUT = 5.0


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def run(fn: Callable[[Any], Awaitable[T]], url: str = SERVER_URL) -> T:
    """fn(connection) on a connection of its own to `url`, from synchronous code."""
    import asyncpg

    async def main() -> T:
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
        try:
            return await fn(conn)
        finally:
            await conn.close()

    return asyncio.run(main())


def execute(url: str, sql: str, *args: Any) -> Any:
    return run(lambda conn: conn.execute(sql, *args), url)


def fetch(url: str, sql: str, *args: Any) -> list[Any]:
    return run(lambda conn: conn.fetch(sql, *args), url)


def unavailable() -> str | None:
    """Why the tests cannot use the server, or None."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return "asyncpg is not installed (pip install -e '.[test]')"
    try:
        run(lambda conn: conn.fetchval("SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@contextmanager
def scratch_database() -> Iterator[str]:
    """Create a database for this test run on the server; drop it at the end."""
    reason = unavailable()
    if reason is not None:
        message = (
            f"PostgreSQL at {redact(SERVER_URL)} is unreachable ({reason});"
            " set FPX_TEST_POSTGRES_URL to a server of yours"
        )
        if REQUIRED:
            pytest.fail(f"{message} (FPX_TEST_POSTGRES=required)", pytrace=False)
        pytest.skip(message)
    name = f"fpx_test_{uuid.uuid4().hex[:12]}"
    execute(SERVER_URL, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(SERVER_URL, name)
    finally:
        execute(SERVER_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reset(url: str) -> None:
    """Empty a database: no schema, no tables, as a new one."""
    execute(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")


async def execute_async(url: str, sql: str, *args: Any) -> Any:
    """execute() for a test already running an event loop."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    try:
        return await conn.execute(sql, *args)
    finally:
        await conn.close()


# -- one statement on either backend's database (a Path: SQLite; a URL: PostgreSQL) --------------


def _numbered(statement: str) -> str:
    """`?` placeholders as PostgreSQL's $1, $2, ..."""
    parts = statement.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))


def sql(db: Path | str, statement: str, *args: Any) -> None:
    """Run one statement straight on the database, as another program would."""
    if isinstance(db, Path):
        with sqlite3.connect(db) as conn:
            conn.execute(statement, args)
        conn.close()
    else:
        execute(db, _numbered(statement), *args)


async def sql_async(db: Path | str, statement: str, *args: Any) -> None:
    """sql() for a test already running an event loop."""
    if isinstance(db, Path):
        sql(db, statement, *args)
    else:
        await execute_async(db, _numbered(statement), *args)
