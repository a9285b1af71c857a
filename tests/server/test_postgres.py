"""What only the PostgreSQL backend does: its schema's versions, claims by several hosts at
once, wake-ups pushed with LISTEN/NOTIFY, and a URL whose password is never shown."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from server.app import create_app
from server.dburl import DatabaseUrl, redact
from server.pg import SCHEMA_VERSION, PostgresStore
from server.settings import Settings
from server.store import StoreError, StoreUnavailable, TaskStatus
from tests import postgres
from tests.server.test_runner import Gate, _true, running, status, submit, until

pytestmark = pytest.mark.anyio

SECRET = "hunter2-not-shown"


def with_password(url: str, password: str = SECRET) -> str:
    """The same URL with a password (the test server's trust authentication ignores it)."""
    scheme, _, rest = url.partition("://")
    user, at, host = rest.rpartition("@")
    assert at, url
    return f"{scheme}://{user.partition(':')[0]}:{password}@{host}"


# -- the URL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://fpx:s3cret@db:5432/fpx", "postgresql://fpx:***@db:5432/fpx"),
    ("postgres://fpx@db/fpx", "postgres://fpx@db/fpx"),
    ("postgresql://db/fpx?user=fpx&password=s3cret", "postgresql://db/fpx?user=fpx&password=***"),
    ("postgresql://fpx:p%40ss@[::1]:5432/fpx", "postgresql://fpx:***@[::1]:5432/fpx"),
])
def test_a_url_prints_with_its_password_masked(url, shown):
    assert redact(url) == shown
    assert str(DatabaseUrl(url)) == shown and "s3cret" not in repr(DatabaseUrl(url))


def test_fpx_db_selects_the_backend_by_its_form():
    assert isinstance(Settings(db="postgresql://h/d").db, DatabaseUrl)
    assert isinstance(Settings(db="POSTGRES://h/d").db, DatabaseUrl)
    assert not isinstance(Settings(db="postgresql.db").db, DatabaseUrl)


def test_a_refused_url_is_named_but_not_echoed(monkeypatch):
    monkeypatch.setenv("FPX_DB", f"postgresql://u:{SECRET}@h:54x32/d")
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    assert "db\n" in message and "not a valid PostgreSQL URL: Port could not be cast" in message
    assert SECRET not in message


# -- schema -------------------------------------------------------------------------------------


async def test_hosts_starting_at_once_create_the_schema_once(postgres_url):
    stores = [PostgresStore(DatabaseUrl(postgres_url), pool_size=2) for _ in range(5)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        versions = await stores[0]._call(
            lambda c: c.fetch("SELECT version FROM fpx_schema_version ORDER BY version")
        )
        assert [r[0] for r in versions] == list(range(1, SCHEMA_VERSION + 1))
        assert [u.username for u in await stores[1].list_users()] == ["Rick", "Morty"]
    finally:
        await asyncio.gather(*(store.close() for store in stores))


def test_a_newer_schema_stops_start_up_with_a_clear_message(postgres_url, caplog):
    url = with_password(postgres_url)
    with TestClient(create_app(Settings(db=url))):
        pass
    postgres.execute(postgres_url, "INSERT INTO fpx_schema_version (version) VALUES ($1)",
                     SCHEMA_VERSION + 1)
    with pytest.raises(StoreError) as refused, TestClient(create_app(Settings(db=url))):
        pass
    message = str(refused.value)
    assert f"schema version {SCHEMA_VERSION + 1}, newer than this fpx knows" in message
    assert redact(url) in message and SECRET not in message
    assert SECRET not in caplog.text


@pytest.mark.parametrize("what", ["no such database", "nothing listening", "a bad parameter"])
def test_an_unreachable_database_stops_start_up_naming_it_and_why(postgres_url, what, caplog):
    from tests.live import free_port

    url = with_password(postgres_url)
    if what == "no such database":
        url = postgres.with_database(url, "fpx_no_such_database")
        reason = 'database "fpx_no_such_database" does not exist'
    elif what == "nothing listening":
        url = url.replace(":5432/", f":{free_port()}/")
        reason = "connection refused"
    else:
        url += "?sslmode=sometimes"
        reason = "the URL is not valid"
    with pytest.raises(StoreError) as refused, TestClient(create_app(Settings(db=url))):
        pass
    message = str(refused.value)
    assert message.startswith(f"cannot use PostgreSQL at {redact(url)}: {reason}"), message
    assert SECRET not in message and SECRET not in caplog.text


# -- claims -------------------------------------------------------------------------------------


async def test_claims_from_several_hosts_take_each_task_exactly_once(postgres_url):
    stores = [PostgresStore(DatabaseUrl(postgres_url), pool_size=4) for _ in range(4)]
    for store in stores:
        await store.open()
    try:
        ids = {str(uuid.uuid4()) for _ in range(300)}
        for task_id in ids:
            await stores[0].create_task(task_id, "sleep", {"wait_time": 0}, 10_000)

        async def drain(store: PostgresStore, worker: str) -> list[str]:
            got: list[str] = []
            while batch := await store.claim_tasks(worker, 7):
                got += [t.id for t in batch]
            return got

        claimed = await asyncio.gather(*(
            drain(store, f"host-{n}:{lane}") for n, store in enumerate(stores)
            for lane in range(3)
        ))
        every = [task_id for got in claimed for task_id in got]
        assert sorted(every) == sorted(ids)  # each once, none left
        assert sum(1 for got in claimed if got) > 1  # the work really was shared
    finally:
        for store in stores:
            await store.close()


# -- pushed wake-ups ----------------------------------------------------------------------------

# Runners whose heartbeat is this slow can only learn of a task or a cancel by a notification.
NO_POLL = {"heartbeat_interval": 3600.0}


async def test_an_idle_host_starts_a_task_submitted_elsewhere_without_polling(postgres_url):
    busy, idle = Gate(), Gate()
    async with running(postgres_url, busy, max_running=1) as a:
        first = await submit(a)
        await until(lambda: _true(first in a.running))
        async with running(postgres_url, idle, **NO_POLL) as b:
            second = await submit(a)  # a is full: the task stays pending for any host
            await until(lambda: _true(second in b.running), what="b to start it")
            idle.open(second)
            busy.open(first)
            await until(lambda: _true(not a.running and not b.running))


async def test_a_cancel_through_one_host_stops_the_job_on_another_without_polling(
    postgres_url, caplog
):
    caplog.set_level(logging.INFO, logger="fpx.tasks")
    gate = Gate()
    async with running(postgres_url, gate, **NO_POLL) as a, running(postgres_url) as b:
        task_id = await submit(a)
        await until(lambda: _true(task_id in a.running))
        _, cancelled = await b.store.cancel_task(task_id)
        assert cancelled and not b.cancel_local(task_id)
        await until(lambda: _true(task_id not in a.running), what="a to stop it")
        assert await status(a, task_id) is TaskStatus.CANCELLED
    assert f"task {task_id} was cancelled; stopping its job" in caplog.text


async def test_notifications_come_back_after_their_connection_is_killed(postgres_url, caplog):
    caplog.set_level(logging.INFO, logger="fpx.db")
    gate = Gate()
    async with running(postgres_url, gate, **NO_POLL) as a, running(postgres_url) as b:
        killed = await postgres.execute_async(
            postgres_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        assert killed == "SELECT 2"  # a's and b's listening connections
        await until(lambda: _true("task notifications are back" in caplog.text),
                    what="the listener to reconnect")
        task_id = await submit(a)
        await until(lambda: _true(task_id in a.running))
        await b.store.cancel_task(task_id)
        await until(lambda: _true(task_id not in a.running), what="a to stop it")


# -- leases -------------------------------------------------------------------------------------


async def test_after_an_outage_nobody_is_judged_dead_until_a_lease_has_passed(postgres_url):
    import asyncpg

    from tests.server.test_runner import _leave_behind

    store = PostgresStore(DatabaseUrl(postgres_url), timeout=0.5)
    await store.open()
    blocker = await asyncpg.connect(postgres_url)
    try:
        running_id, _ = await _leave_behind(postgres_url, worker_pid=1, heartbeat_age=100)
        # Another program holds the table past the store's timeout: the database is "away".
        async with blocker.transaction():
            await blocker.execute("LOCK TABLE workers IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StoreUnavailable):
                await store.heartbeat("live", [])
            assert store.problem is not None
        await store.heartbeat("live", [])
        assert store.problem is None
        # Every host's renewals failed meanwhile: none is judged on the lease it missed...
        recovery = await store.recover("live", 1.0)
        assert recovery.interrupted == [] and recovery.dead_workers == []
        # ...until this host has been back for a lease itself.
        async def judged():
            return (await store.recover("live", 1.0)).interrupted

        assert await until(judged, what="the lease to pass") == [running_id]
    finally:
        await blocker.close()
        await store.close()
