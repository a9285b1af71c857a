"""Figures of fpx on PostgreSQL (issue 12), all on one PostgreSQL server, each in databases of
its own that the figure creates and drops (bench/postgres.py):

- claim rate: one fpx worker draining a pre-filled queue of no-op tasks, against procrastinate's
  worker draining as many no-op jobs with the same concurrency and pool size;
- no-op tasks from `POST /tasks` to succeeded over HTTP: 2 hosts against 1, with the CPU
  seconds of every process involved;
- `POST /tasks` submissions/s: the server on PostgreSQL against the same server on SQLite;
- a new task's wait from its 202 to `running` on an idle host, against the heartbeat interval.

The no-op task is the sleep job with wait_time 0 (as in the other task figures).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx

from bench import load, postgres
from bench.context import Context
from bench.procs import BenchError, Service, http_get
from bench.report import Row, Target
from server.lifespan import open_store
from server.settings import Settings
from server.store import Store, TaskStatus

NO_TASK = '{"wait_time": 0}'
NO_OP = ("sleep", {"wait_time": 0})
PROCRASTINATE_APP = "bench.procrastinate_app.app"
POLL = 0.02  # seconds between two looks at a queue's counts
PREFILL_AT_ONCE = 100  # task creations in flight at once while pre-filling fpx's queue


def _database_name(figure: str) -> str:
    return f"fpx_bench_{figure}_{os.getpid()}"


def _wait_for(probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not probe():
        if time.perf_counter() > deadline:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL)


def _counts(service: Service) -> dict[str, int]:
    status, body = http_get(service.port, "/tasks/counts")
    if status != 200:
        raise BenchError(f"{service.name}: GET /tasks/counts answered {status}")
    return json.loads(body)


def _finished(service: Service) -> int:
    """Tasks that ended, whatever their outcome: a task interrupted (its host taken for dead,
    say) must not hold a figure up; the notes say how many did not succeed."""
    return sum(n for status, n in _counts(service).items()
               if status not in ("pending", "running"))


def _not_succeeded(service: Service) -> dict[str, int]:
    return {status: n for status, n in _counts(service).items()
            if status not in ("pending", "running", "succeeded") and n}


def _store(db: str, pool_size: int) -> Store:
    """fpx's own store for `db` (a PostgreSQL URL or an SQLite path), as its server opens it."""
    return open_store(Settings(db=db, db_pool_size=pool_size))


# -- claim rate ----------------------------------------------------------------------------


async def _prefill(store: Store, count: int) -> None:
    """`count` no-op tasks, pending, through fpx's store (no server is running)."""
    job, args = NO_OP
    for start in range(0, count, PREFILL_AT_ONCE):
        await asyncio.gather(*(
            store.create_task(str(uuid.uuid4()), job, args, max_unfinished=count)
            for _ in range(min(PREFILL_AT_ONCE, count - start))
        ))


async def _fpx_drain(ctx: Context, db: str, count: int, concurrency: int) -> tuple[float, str]:
    """Seconds from the first claim to the last success of `count` pre-filled tasks, from the
    tasks' own started_at and finished_at; and the CPU seconds each process used."""
    store = _store(db, ctx.config.pool_size)
    await store.open()
    try:
        await _prefill(store, count)
        postgres.query(db, "ANALYZE")  # a queue in service has its statistics
        settings = {"max_running": str(concurrency), "db_pool_size": str(ctx.config.pool_size),
                    "max_queued": str(count)}
        meter = postgres.CpuMeter(db, load_generator=False)
        meter.start()
        with ctx.fpx_server("claim-fpx", db_url=db, **settings) as server:
            deadline = time.perf_counter() + 60 + count / 20
            while (await store.count_tasks()).get(TaskStatus.SUCCEEDED, 0) < count:
                server.check_alive()
                if time.perf_counter() > deadline:
                    raise BenchError(f"fpx did not drain {count} tasks in time")
                await asyncio.sleep(POLL)
            meter.used["fpx server"] = postgres.process_cpu_s(server.pid)
            meter.stop()
        tasks = await store.list_tasks(TaskStatus.SUCCEEDED, count)
    finally:
        await store.close()
    return (max(t.finished_at or 0 for t in tasks) - min(t.started_at or 0 for t in tasks),
            meter.describe_used())


async def _procrastinate_prefill(url: str, count: int) -> None:
    from procrastinate import PsycopgConnector

    from bench.procrastinate_app import app, noop

    with app.replace_connector(PsycopgConnector(conninfo=url)):
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            for start in range(0, count, 1000):
                await noop.batch_defer_async(*({} for _ in range(min(1000, count - start))))


def _procrastinate_drain(ctx: Context, url: str, count: int, concurrency: int
                         ) -> tuple[float, str]:
    """The same for procrastinate's worker: from its first `started` event to its last
    `succeeded` one."""
    asyncio.run(_procrastinate_prefill(url, count))
    postgres.query(url, "ANALYZE")
    argv = [
        str(ctx.bin / "procrastinate"), "--app", PROCRASTINATE_APP, "--log-level", "warning",
        "worker", "--concurrency", str(concurrency), "--name", "bench",
    ]
    env = {**ctx.env, "BENCH_PROCRASTINATE_URL": url, "BENCH_POOL_SIZE": str(ctx.config.pool_size)}
    meter = postgres.CpuMeter(url, load_generator=False)
    meter.start()
    with ctx.process("claim-procrastinate", argv, env) as worker, postgres.connect(url) as conn:
        def drained() -> bool:
            worker.check_alive()
            return conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = "
                                "'succeeded'").fetchone()[0] >= count

        _wait_for(drained, 60 + count / 20, f"procrastinate to drain {count} jobs")
        meter.used["procrastinate worker"] = postgres.process_cpu_s(worker.pid)
        meter.stop()
    first, last = postgres.query(
        url,
        "SELECT min(at) FILTER (WHERE type = 'started'), max(at) FILTER (WHERE type = "
        "'succeeded') FROM procrastinate_events",
    )[0]
    return (last - first).total_seconds(), meter.describe_used()


def claim_rate(ctx: Context) -> list[Row]:
    c = ctx.config
    n, concurrency = c.claim_tasks, c.claim_concurrency
    if not (ctx.bin / "procrastinate").exists():
        raise BenchError("procrastinate is not installed: pip install -e '.[bench]'")
    row = Row(
        f"claim rate: one worker drains {n:,} pre-filled no-op tasks (concurrency "
        f"{concurrency})", "procrastinate's worker, same server, concurrency and pool",
        "tasks/s", Target(">=", 1.0),
    )
    cpu = {}
    for turn in range(c.claim_rounds):
        with postgres.database(_database_name(f"claim_fpx_{turn}")) as db:
            took, cpu["fpx"] = asyncio.run(_fpx_drain(ctx, db, n, concurrency))
            row.fpx_samples.append(n / took)
        with postgres.database(_database_name(f"claim_procrastinate_{turn}")) as db:
            took, cpu["procrastinate"] = _procrastinate_drain(ctx, db, n, concurrency)
            row.baseline_samples.append(n / took)
    row.note = (
        f"{c.claim_rounds} turns each, a fresh database each turn. fpx: {n:,} tasks created "
        "through its store with no server running, then `python -m server` started with "
        f"FPX_MAX_RUNNING={concurrency}, FPX_DB_POOL_SIZE={c.pool_size}; procrastinate: as many "
        f"jobs deferred with batch_defer_async, then `procrastinate worker --concurrency "
        f"{concurrency}` with a pool of {c.pool_size}, logging at warning as fpx does. Both "
        "queues are ANALYZEd once filled. The rate is the count over the time "
        "from the first claim to the last success, as each records it in the database (fpx's "
        "started_at and finished_at, procrastinate's events): neither side's start-up counts. "
        "The designs differ where it shows: fpx claims as many tasks as it has free slots in "
        "one statement; procrastinate's worker fetches one job per statement, and waits for "
        "each fetch before the next (procrastinate/worker.py, _fetch_and_process_jobs). "
        "CPU seconds of the last turn, each worker's start-up included: "
        + "; ".join(f"{side}: {text}" for side, text in cpu.items()) + "."
    )
    return [row]


# -- 2 hosts against 1 ---------------------------------------------------------------------


def _submit_and_drain(hosts: list[Service], count: int, connections: int,
                      total: Callable[[], int], expected: int) -> tuple[float, int]:
    """`count` no-op tasks submitted over HTTP, split evenly across `hosts` (one hey each, at
    once), until `expected` tasks in all have succeeded; the seconds that took and the
    refusals."""
    shares = [count // len(hosts) + (i < count % len(hosts)) for i in range(len(hosts))]
    started = time.perf_counter()
    with ThreadPoolExecutor(len(hosts)) as pool:
        loads = list(pool.map(
            lambda hs: load.counted_post(hs[0].url + "/tasks", NO_TASK, hs[1],
                                         max(1, connections // len(hosts))),
            zip(hosts, shares, strict=True),
        ))
    refused = sum(x.errors for x in loads)
    _wait_for(lambda: total() >= expected - refused, 120, f"{expected} tasks to end")
    return time.perf_counter() - started, refused


def two_hosts(ctx: Context) -> list[Row]:
    c = ctx.config
    n = c.scale_tasks
    row = Row(f"no-op tasks from `POST /tasks` to succeeded, over HTTP: tasks/s of 2 hosts "
              f"({n:,} a turn)", "1 host, same PostgreSQL server", "tasks/s", Target(">=", 1.3))
    cpu_note: dict[str, list[str]] = {"1 host": [], "2 hosts": []}
    wait_note: dict[str, str] = {}
    settings = {"db_pool_size": str(c.pool_size)}
    with contextlib.ExitStack() as stack:
        one_db = stack.enter_context(postgres.database(_database_name("one_host")))
        two_db = stack.enter_context(postgres.database(_database_name("two_hosts")))
        # Every process may use every CPU: pinning two hosts to the one server CPU would decide
        # the figure. The CPU seconds below say what was the limit.
        stack.enter_context(ctx.every_cpu())
        one = stack.enter_context(ctx.fpx_server("one-host", db_url=one_db, **settings))
        a = stack.enter_context(ctx.fpx_server("host-a", db_url=two_db, **settings))
        b = stack.enter_context(ctx.fpx_server("host-b", db_url=two_db, **settings))
        for s in (one, a, b):
            s.wait_until_answers("/readyz")
        sides = {"1 host": ([one], one_db), "2 hosts": ([a, b], two_db)}
        done = dict.fromkeys(sides, 0)
        for name, (hosts, _) in sides.items():  # warm-up
            done[name] += c.connections - _submit_and_drain(
                hosts, c.connections, c.connections, lambda h=hosts: _finished(h[0]),
                done[name] + c.connections)[1]
        for _ in range(c.task_rounds):
            for name, (hosts, db) in sides.items():
                meter = postgres.CpuMeter(db, {h.name: h.pid for h in hosts})
                meter.start()
                with postgres.WaitSampler(db) as waits:
                    took, refused = _submit_and_drain(
                        hosts, n, c.connections, lambda h=hosts: _finished(h[0]),
                        done[name] + n)
                meter.stop()
                wait_note[name] = waits.describe()
                done[name] += n - refused
                (row.baseline_samples if name == "1 host" else row.fpx_samples).append(
                    (n - refused) / took)
                cpu_note[name].append(meter.describe(took, len(os.sched_getaffinity(0))))
        unsucceeded = {name: _not_succeeded(hosts[0]) for name, (hosts, _) in sides.items()}
    row.note = (
        f"hey, {c.task_rounds} turns of {n:,} submissions per side ({c.connections} connections"
        " in all, split evenly over the hosts), timed until the last task ended; each host "
        f"a `python -m server` with FPX_DB_POOL_SIZE={c.pool_size}, every process on every CPU. "
        + " ".join(f"{name}, last turn: {notes[-1]}." for name, notes in cpu_note.items()
                   if notes)
        + " The database's active backends, sampled every 10 ms in the last turn: "
        + "; ".join(f"{name}: {text}" for name, text in wait_note.items()) + "."
        + "".join(f" Not succeeded, {name}: {json.dumps(bad)}." for name, bad in unsucceeded.items()
                  if bad)
    )
    return [row]


# -- PostgreSQL against SQLite -------------------------------------------------------------


def submissions(ctx: Context) -> list[Row]:
    c = ctx.config
    rate = Row("`POST /tasks` (wait_time 0) submissions/s on PostgreSQL",
               "the same server on SQLite", "req/s")
    until = Row(f"time until all {c.tasks:,} submitted tasks succeeded, on PostgreSQL",
                "the same server on SQLite", "s")
    settings = {"db_pool_size": str(c.pool_size)}
    with postgres.database(_database_name("submissions")) as db, \
            ctx.fpx_server("submit-pg", db_url=db, **settings) as pg, \
            ctx.fpx_server("submit-sqlite") as lite:
        pg.wait_until_answers("/readyz")
        lite.wait_until_answers("/readyz")
        accepted = {pg.name: 0, lite.name: 0}
        refused = 0
        for _ in range(c.task_rounds):
            for service, rates, untils in ((pg, rate.fpx_samples, until.fpx_samples),
                                           (lite, rate.baseline_samples, until.baseline_samples)):
                started = time.perf_counter()
                result = load.counted_post(service.url + "/tasks", NO_TASK, c.tasks,
                                           c.connections)
                accepted[service.name] += result.requests - result.errors
                refused += result.errors
                _wait_for(lambda s=service: _finished(s) >= accepted[s.name], 120,
                          f"the tasks on {service.name} to end")
                rates.append(result.requests_per_s)
                untils.append(time.perf_counter() - started)
    rate.note = (
        f"hey, {c.task_rounds} turns of {c.tasks:,} submissions per side, {c.connections} at "
        f"a time; one server each, on the server CPU (PostgreSQL on any), FPX_DB_POOL_SIZE="
        f"{c.pool_size}. Report only." + (f" {refused} submissions were refused." if refused
                                           else "")
    )
    return [rate, until]


# -- wake-up of an idle host ---------------------------------------------------------------


def _parse_time(text: str | None) -> float:
    if text is None:
        raise BenchError("a finished task has no started_at")
    return datetime.fromisoformat(text).timestamp()


def idle_host_wake_up(ctx: Context) -> list[Row]:
    """Host A has its one slot taken by a long task, so a task submitted to it can only be
    started by host B, which is idle: what wakes B is the database's notification, or its
    next heartbeat."""
    heartbeat = Settings.model_fields["heartbeat_interval"].default
    row = Row("a new task's wait from the 202 to `running` on an idle host (another host's "
              "submission)", "the heartbeat interval", "ms", Target("<=", 50, "ms"))
    same_host = Row("a new task's wait from the 202 to `running`, submitted to the idle host",
                    "the heartbeat interval", "ms")
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(postgres.database(_database_name("wake_up")))
        busy = stack.enter_context(ctx.fpx_server("wake-busy", db_url=db, max_running="1"))
        busy.wait_until_answers("/readyz")
        to_busy = stack.enter_context(httpx.Client(base_url=busy.url, timeout=10))
        # The long task first, while A is alone: B would take it otherwise.
        long = _post(to_busy, {"wait_time": 3600})
        _wait_for(lambda: _status(to_busy, long)["status"] == "running", 30,
                  "the busy host to start its long task")
        idle = stack.enter_context(ctx.fpx_server("wake-idle", db_url=db))
        idle.wait_until_answers("/readyz")
        with httpx.Client(base_url=idle.url, timeout=10) as to_idle:
            pause = random.Random(12)
            for _ in range(ctx.config.wake_samples):
                for client, samples, elsewhere in ((to_busy, row.fpx_samples, True),
                                                   (to_idle, same_host.fpx_samples, False)):
                    # Submissions at random points of the hosts' heartbeats, not just after
                    # one (a poll-driven claim would then always wait a whole interval).
                    time.sleep(pause.uniform(0, heartbeat))
                    task_id = _post(client, json.loads(NO_TASK))
                    _wait_for(lambda c=client, t=task_id: _status(c, t)["status"] == "succeeded",
                              30, f"task {task_id} to succeed")
                    task = _status(client, task_id)
                    waited = _parse_time(task["started_at"]) - _parse_time(task["created_at"])
                    samples.append(waited * 1000)
                    if elsewhere and task["worker"] == _status(to_busy, long)["worker"]:
                        raise BenchError("the busy host ran a task while its slot was taken")
            to_busy.post(f"/tasks/{long}/cancel")
    row.baseline_samples = same_host.baseline_samples = [heartbeat * 1000]
    row.note = (
        f"{ctx.config.wake_samples} tasks each way on one database, one after the other: host "
        "A runs FPX_MAX_RUNNING=1 with its slot taken by a long task, so what is submitted to "
        "A is started by host B, after a random pause of up to a heartbeat. The wait is the "
        "task's started_at (the claim) less its created_at (the 202 follows the creation at "
        "once), both read on the database's clock. Without a pushed wake-up it "
        f"would be up to one heartbeat (FPX_HEARTBEAT_INTERVAL, {heartbeat:g} s by default)."
    )
    return [row, same_host]


def _post(client: httpx.Client, body: dict) -> str:
    r = client.post("/tasks", json=body)
    if r.status_code != 202:
        raise BenchError(f"POST /tasks answered {r.status_code}: {r.text[:200]}")
    return r.json()["id"]


def _status(client: httpx.Client, task_id: str) -> dict:
    r = client.get(f"/tasks/{task_id}")
    if r.status_code != 200:
        raise BenchError(f"GET /tasks/{task_id} answered {r.status_code}")
    return r.json()

