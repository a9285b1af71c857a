"""Which PostgreSQL driver the store uses: asyncpg against psycopg 3 (with psycopg_pool).

    python -m bench.pg_drivers [URL] [--rounds N] [--tasks N] [--concurrency N]

Each driver runs the three round-trips every task costs the store (insert it, claim it with
FOR UPDATE SKIP LOCKED, record its end) through a pool, `concurrency` tasks at a time, in a
scratch database created on the server URL names (and dropped at the end). The drivers run
alternately, `rounds` times each, so that a busy machine slows both alike; the figures are
tasks per second and CPU time per task (medians of the rounds), and their ratios. Run by hand
(`make bench` installs psycopg with the bench extra): docs/postgres.md quotes its output.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"

SCHEMA = """
DROP TABLE IF EXISTS bench_tasks;
CREATE TABLE bench_tasks (
    id text PRIMARY KEY, seq bigserial, status text NOT NULL, job text NOT NULL,
    args text NOT NULL, created_at float8 NOT NULL, started_at float8, finished_at float8,
    result text, worker text
);
CREATE INDEX ON bench_tasks (created_at, seq) WHERE status = 'pending';
"""
INSERT = (
    "INSERT INTO bench_tasks (id, status, job, args, created_at) "
    "VALUES ({}, 'pending', 'sleep', '{{}}', extract(epoch from clock_timestamp())) RETURNING *"
)
CLAIM = (
    "WITH picked AS (SELECT id FROM bench_tasks WHERE status = 'pending' "
    "ORDER BY created_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "UPDATE bench_tasks t SET status = 'running', worker = {}, "
    "started_at = extract(epoch from clock_timestamp()) FROM picked WHERE t.id = picked.id "
    "RETURNING t.*"
)
FINISH = (
    "UPDATE bench_tasks SET status = 'succeeded', result = 'null', "
    "finished_at = extract(epoch from clock_timestamp()) "
    "WHERE id = {} AND status = 'running' AND worker = {}"
)

Round = Callable[[str, int, int], Awaitable[tuple[float, float]]]


def _dollar(sql: str) -> str:
    return sql.format(*(f"${i}" for i in range(1, sql.count("{}") + 1)))


def _percent(sql: str) -> str:
    return sql.format(*(["%s"] * sql.count("{}")))


async def asyncpg_round(
    url: str, tasks: int, concurrency: int, reset: bool = True
) -> tuple[float, float]:
    """asyncpg's pool; by default each connection given back runs Connection.reset() (one
    more round-trip: UNLISTEN, RESET ALL ...); `reset=False` skips it, as the store does."""
    import asyncpg

    async def keep(conn: asyncpg.Connection) -> None:
        return None

    pool = await asyncpg.create_pool(
        url, min_size=concurrency, max_size=concurrency, reset=None if reset else keep
    )
    try:
        await pool.execute(SCHEMA)
        insert, claim, finish = _dollar(INSERT), _dollar(CLAIM), _dollar(FINISH)

        async def one(worker: str) -> None:
            await pool.fetchrow(insert, str(uuid.uuid4()))
            row = await pool.fetchrow(claim, worker)
            if row is not None:  # every pending row was locked by other claims
                await pool.execute(finish, row["id"], worker)

        return await _timed(one, tasks, concurrency)
    finally:
        await pool.close()


async def psycopg_round(url: str, tasks: int, concurrency: int) -> tuple[float, float]:
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(
        url, min_size=concurrency, max_size=concurrency, open=False, kwargs={"autocommit": True}
    )
    await pool.open(wait=True)
    try:
        async with pool.connection() as conn:
            await conn.execute(SCHEMA)
        insert, claim, finish = _percent(INSERT), _percent(CLAIM), _percent(FINISH)

        async def one(worker: str) -> None:
            async with pool.connection() as conn:
                await (await conn.execute(insert, (str(uuid.uuid4()),))).fetchone()
            async with pool.connection() as conn:
                row = await (await conn.execute(claim, (worker,))).fetchone()
            if row is not None:
                async with pool.connection() as conn:
                    await conn.execute(finish, (row[0], worker))

        return await _timed(one, tasks, concurrency)
    finally:
        await pool.close()


async def _timed(
    one: Callable[[str], Awaitable[None]], tasks: int, concurrency: int
) -> tuple[float, float]:
    """Tasks per second of `tasks` runs of `one`, `concurrency` at a time, and the CPU time
    this process spent per task, in microseconds (the driver's own cost, which the server's
    commits do not blur)."""
    per_lane = tasks // concurrency

    async def lane(n: int) -> None:
        for _ in range(per_lane):
            await one(f"bench:{n}")

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(lane(n) for n in range(concurrency)))
    done = per_lane * concurrency
    return done / (time.perf_counter() - started), (time.process_time() - cpu) / done * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default=DEFAULT_URL)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    opts = parser.parse_args()
    import asyncpg

    scratch = f"fpx_bench_drivers_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(opts.url)
    await admin.execute(f'CREATE DATABASE "{scratch}"')
    try:
        await _compare(urlunsplit(urlsplit(opts.url)._replace(path=f"/{scratch}")), opts)
    finally:
        await admin.execute(f'DROP DATABASE "{scratch}" WITH (FORCE)')
        await admin.close()


async def _compare(url: str, opts: argparse.Namespace) -> None:
    drivers: dict[str, Round] = {
        "asyncpg": asyncpg_round,
        "asyncpg-noreset": functools.partial(asyncpg_round, reset=False),
        "psycopg": psycopg_round,
    }
    rates: dict[str, list[float]] = {name: [] for name in drivers}
    cpus: dict[str, list[float]] = {name: [] for name in drivers}
    for _ in range(opts.rounds):
        for name, run in drivers.items():
            rate, cpu = await run(url, opts.tasks, opts.concurrency)
            rates[name].append(rate)
            cpus[name].append(cpu)
    print(f"{opts.tasks} tasks of insert + claim + finish, {opts.concurrency} at a time, "
          f"median of {opts.rounds} alternate rounds")
    for name in drivers:
        print(f"{name:16} {statistics.median(rates[name]):6.0f} tasks/s "
              f"{statistics.median(cpus[name]):6.0f} us CPU/task  "
              f"(rounds: {', '.join(f'{v:.0f}' for v in rates[name])})")
    base, base_cpu = statistics.median(rates["psycopg"]), statistics.median(cpus["psycopg"])
    for name in ("asyncpg", "asyncpg-noreset"):
        print(f"{name} / psycopg: {statistics.median(rates[name]) / base:.2f}x tasks/s, "
              f"{statistics.median(cpus[name]) / base_cpu:.2f}x CPU")

if __name__ == "__main__":
    asyncio.run(main())
