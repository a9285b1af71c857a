"""Figures of running servers: /predict throughput and latency, /predict while tasks sleep,
POST /tasks, launch -> ready, and memory. fpx and its baseline run side by side, pinned to the
same CPU, and take turns under the load generator (ABAB...)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bench import load, tools
from bench.context import Context
from bench.load import Load
from bench.procs import BenchError, Service, http_get, http_post_json
from bench.report import Row, Target

PREDICT = "/predict?x=3.5"
SEED_APP = "bench.seed_app:app"
SEED_PATH = "bench/seed_app.py"  # as `fastapi run` takes it
BASELINE_APP = "bench.baseline_app:app"
STARLETTE_APP = "bench.starlette_app:app"
TUTORIAL_APP = "bench.tutorial_app:app"
SEED = "the seed's app (bench/seed_app.py)"
ONE_ROUTE = "one-route async FastAPI app"
STARLETTE = "bare Starlette app (a limit)"
NO_TASK = '{"wait_time": 0}'


def _load_tool(ctx: Context) -> str:
    if ctx.load_tool is None:
        raise BenchError("neither wrk nor hey is installed")
    return ctx.load_tool


def _timed_rounds(ctx: Context, targets: list[tuple[Service, str]]) -> list[list[Load]]:
    """A warm-up run on each (service, path), then timed runs taking turns; the loads of each."""
    tool = _load_tool(ctx)
    c = ctx.config
    for s, path in targets:
        load.timed_get(tool, s.url + path, c.connections, c.warmup_seconds)
    loads: list[list[Load]] = [[] for _ in targets]
    for _ in range(c.load_rounds):
        for i, (s, path) in enumerate(targets):
            loads[i].append(load.timed_get(tool, s.url + path, c.connections, c.load_seconds))
    return loads


def _fill(row: Row, fpx: list[Load], baseline: list[Load], value: Callable[[Load], float | None]):
    row.fpx_samples = [v for v in map(value, fpx) if v is not None]
    row.baseline_samples = [v for v in map(value, baseline) if v is not None]


def _errors(loads: list[list[Load]]) -> str:
    bad = sum(x.errors for side in loads for x in side)
    return f" {bad} requests failed." if bad else ""


def _counts(service: Service) -> dict[str, int]:
    status, body = http_get(service.port, "/tasks/counts")
    if status != 200:
        raise BenchError(f"{service.name}: GET /tasks/counts answered {status}")
    return json.loads(body)


def _wait_for(probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not probe():
        if time.perf_counter() > deadline:
            raise BenchError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


def _wait_succeeded(service: Service, count: int, timeout: float = 120.0) -> None:
    _wait_for(
        lambda: _counts(service).get("succeeded", 0) >= count, timeout,
        f"{count} tasks to succeed on {service.name}",
    )


def _result(service: Service) -> float:
    """The `result` of the service's answer to PREDICT: what every app's answer has."""
    try:
        return float(json.loads(http_get(service.port, PREDICT)[1])["result"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"{service.name}: no number as the `result` of {PREDICT}") from exc


def _check_answers(seed: Service, same_shape: list[Service]) -> None:
    """fpx, the one-route and the Starlette app answer the same bytes; the seed answers only
    `{"result": ...}`, so what is compared with it is the result."""
    bodies = {http_get(s.port, PREDICT)[1] for s in same_shape}
    if len(bodies) != 1:
        raise BenchError(f"the apps answer {PREDICT} differently: {bodies}")
    if _result(seed) != _result(same_shape[0]):
        raise BenchError(f"the seed's app gives another result for {PREDICT}")


def predict_throughput(ctx: Context) -> list[Row]:
    """fpx's /predict against the seed's app, the one-route app and bare Starlette, the four
    taking turns under the load generator."""
    c = ctx.config
    figure = (f"`/predict` requests/s through FastAPI's routing (1 worker, {c.connections} "
              "connections)")
    peers = [  # (service name, app, the row's baseline, target)
        ("rps-seed", SEED_APP, SEED, Target(">=", 1.0)),
        ("rps-one-route", BASELINE_APP, ONE_ROUTE, Target(">=", 0.8)),
        ("rps-starlette", STARLETTE_APP, STARLETTE, None),
    ]
    with contextlib.ExitStack() as running:
        fpx = running.enter_context(ctx.fpx_server("rps-fpx"))
        apps = [running.enter_context(ctx.uvicorn_app(name, app)) for name, app, _, _ in peers]
        fpx.wait_until_answers("/readyz")
        for app in apps:
            app.wait_until_answers(PREDICT)
        _check_answers(apps[0], [fpx, *apps[1:]])
        fpx_loads, *peer_loads = _timed_rounds(ctx, [(s, PREDICT) for s in (fpx, *apps)])
    rows = []
    for (_, _, baseline, target), loads in zip(peers, peer_loads, strict=True):
        rows.append(Row(figure, baseline, "req/s", target))
        _fill(rows[-1], fpx_loads, loads, lambda x: x.requests_per_s)
    p99 = Row("`/predict` p99 latency (same runs)", ONE_ROUTE, "ms")
    _fill(p99, fpx_loads, peer_loads[1], lambda x: x.p99_ms)
    rows[0].note = (
        f"{ctx.load_tool}, {c.load_rounds} runs of {c.load_seconds:g} s per side after a "
        f"{c.warmup_seconds:g} s warm-up, the four servers taking turns; `GET {PREDICT}` on "
        "each. fpx, the one-route and the Starlette app answer the same bytes; the seed's app "
        'answers only `{"result": 147.0}`, so of its answer the result is compared. The '
        "Starlette row has no target: one route with no dependency solving, validation or "
        "OpenAPI, the most a FastAPI app could approach." + _errors([fpx_loads, *peer_loads])
    )
    return [*rows, p99]


def predict_with_metrics(ctx: Context) -> list[Row]:
    """What counting every request for /metrics costs /predict."""
    off = "the same server with FPX_METRICS=false"
    rps = Row("`/predict` requests/s with metrics on", off, "req/s", Target(">=", 0.9))
    with ctx.fpx_server("metrics-on") as on, \
            ctx.fpx_server("metrics-off", metrics="false") as without:
        on.wait_until_answers("/readyz")
        without.wait_until_answers("/readyz")
        loads = _timed_rounds(ctx, [(on, PREDICT), (without, PREDICT)])
    _fill(rps, *loads, lambda x: x.requests_per_s)
    rps.note = (
        "prometheus-client counts and times each request by route (server/metrics.py) and "
        f"times the model's predict; the other server does neither.{_errors(loads)}"
    )
    return [rps]


def predict_under_sleeping_tasks(ctx: Context) -> list[Row]:
    n = ctx.config.busy_tasks
    same = "the same server idle"
    p99 = Row(f"`/predict` p99 while {n} tasks sleep (max_running)", same, "ms", Target("<=", 2.0))
    rps = Row(f"`/predict` requests/s while {n} tasks sleep", same, "req/s")
    with ctx.fpx_server("busy-fpx", max_running=str(n)) as busy, \
            ctx.fpx_server("idle-fpx", max_running=str(n)) as idle:
        busy.wait_until_answers("/readyz")
        idle.wait_until_answers("/readyz")
        sleeping = json.dumps({"wait_time": 3600}).encode()  # outlasts the figure
        for _ in range(n):
            if http_post_json(busy.port, "/tasks", sleeping) != 202:
                raise BenchError("the busy server refused a task")
        _wait_for(lambda: _counts(busy)["running"] == n, 30, f"{n} running tasks")
        loads = _timed_rounds(ctx, [(busy, PREDICT), (idle, PREDICT)])
        still = _counts(busy)["running"]
    _fill(p99, *loads, lambda x: x.p99_ms)
    _fill(rps, *loads, lambda x: x.requests_per_s)
    p99.note = f"{still} of {n} tasks were still running after the last run.{_errors(loads)}"
    return [p99, rps]


def task_submissions(ctx: Context) -> list[Row]:
    c = ctx.config
    tutorial = "tutorial in-memory BackgroundTasks app"
    rate = Row("`POST /tasks` (wait_time 0) submissions/s", tutorial, "req/s", Target(">=", 0.5))
    until = Row(f"time until all {c.tasks:,} submitted tasks succeeded", tutorial, "s")
    with ctx.fpx_server("tasks-fpx") as fpx, ctx.uvicorn_app("tasks-tutorial", TUTORIAL_APP) as tut:
        fpx.wait_until_answers("/readyz")
        tut.wait_until_answers("/tasks/counts")
        accepted = {fpx.name: 0, tut.name: 0}
        failed = 0
        for _ in range(c.task_rounds):
            for service, rate_samples, until_samples in (
                (fpx, rate.fpx_samples, until.fpx_samples),
                (tut, rate.baseline_samples, until.baseline_samples),
            ):
                started = time.perf_counter()
                result = load.counted_post(service.url + "/tasks", NO_TASK, c.tasks,
                                           c.connections)
                accepted[service.name] += result.requests - result.errors
                failed += result.errors
                _wait_succeeded(service, accepted[service.name])
                rate_samples.append(result.requests_per_s)
                until_samples.append(time.perf_counter() - started)
    rate.note = (
        f"hey, {c.task_rounds} rounds of {c.tasks:,} submissions per side, {c.connections} at a "
        f"time; fpx writes each task to SQLite (WAL) and runs it, the tutorial keeps a dict."
        + (f" {failed} submissions were refused." if failed else "")
    )
    return [rate, until]


def launch_and_memory(ctx: Context) -> list[Row]:
    """Launch -> ready against what a user would start instead (bare uvicorn for the server,
    `fastapi run` for `fpx serve`), and the RSS of each server once it answered.

    Everything here runs on every CPU, as a user's commands do.
    """
    bare = "bare uvicorn + one-route app -> first answer"
    module = Row("`python -m server` launch -> ready", bare, "s", Target("<=", 1.25))
    serve = Row("`fpx serve` launch -> ready",
                f"`fastapi run {SEED_PATH}` -> first answer of /predict", "s", Target("<=", 1.1))
    rss = Row("server RSS after start-up", "one-route app after start-up", "MiB",
              Target("<=", 1.3))
    fastapi = tools.fastapi_cli(ctx.say)
    if fastapi is None:
        serve.skipped = "fastapi-cli is not installed alone"

    def fpx_module() -> tuple[float, float]:
        with ctx.fpx_server("launch-fpx", db="launch") as s:
            ready = s.wait_until_answers("/readyz")
            http_get(s.port, PREDICT)
            return ready, s.rss_mib()

    def baseline() -> tuple[float, float]:
        with ctx.uvicorn_app("launch-baseline", BASELINE_APP) as s:
            ready = s.wait_until_answers(PREDICT)
            http_get(s.port, PREDICT)
            return ready, s.rss_mib()

    before_spawn: list[float] = []  # fpx serve's own work before it spawns its server

    def fpx_serve() -> float:
        with ctx.fpx_serve("launch-serve", db="launch") as s:
            launched = s.wait_for_output()
        # Its ready line says how long the server took from the spawn: the rest is fpx's.
        before_spawn.append(launched - json.loads(s.first_line)["startup_s"])
        return launched

    def fastapi_run() -> list[float]:
        if fastapi is None:
            return []
        with ctx.fastapi_run("launch-fastapi-run", fastapi, SEED_PATH) as s:
            return [s.wait_until_answers(PREDICT)]

    with ctx.every_cpu():
        fpx_module(), baseline(), fpx_serve(), fastapi_run()  # warm-up: page cache, database
        for _ in range(ctx.config.launch_rounds):
            ready, mib = fpx_module()
            module.fpx_samples.append(ready)
            rss.fpx_samples.append(mib)
            ready, mib = baseline()
            module.baseline_samples.append(ready)
            rss.baseline_samples.append(mib)
            serve.fpx_samples.append(fpx_serve())
            serve.baseline_samples += fastapi_run()
    module.note = (
        "ready: /readyz answers 200 (models loaded, database open, runner started); the "
        "baseline: its first 200 from /predict. Polled every 2 ms on an existing database; "
        "the servers and the poller may use every CPU, as a user's commands do (both launch "
        "rows)."
    )
    serve.note = (
        "ready: `fpx serve --json` prints its ready line (it polls /readyz itself); the "
        f"baseline: `fastapi run {SEED_PATH} --host 127.0.0.1 --port P`, its first 200 from "
        f"`{PREDICT}`. fpx parses its options, then starts `python -m server`: two "
        "interpreters one after the other, where `fastapi run` imports the app into its own. "
        "Before the spawn (its interpreter, Typer, Typer's pydantic coercion of the options, "
        f"the port check), fpx took {_median_s(before_spawn)}; the rest is the server's start "
        "(the `python -m server` row) and the poll. `fastapi run` logs at info with an access "
        "line per request (it has no option for either)."
    )
    return [module, serve, rss]


def _median_s(samples: list[float]) -> str:
    return f"{statistics.median(samples):.2f} s (median)" if samples else "(not measured)"


def _database_bytes(path: Path) -> int:
    """The database's logical size, pages in the WAL included (a read-only connection)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        return pages * conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()


def memory_after_tasks(ctx: Context) -> list[Row]:
    """RSS after rss_tasks tasks, then its growth per task over growth_tasks more, once
    SQLite's page cache (2 MiB by default) has filled: against the database's own growth."""
    c = ctx.config
    after = Row(f"server RSS after {c.rss_tasks:,} tasks", "one-route app after start-up", "MiB",
                Target("<=", 1.3))
    growth = Row("RSS growth per finished task", "database growth per task", "B/task",
                 Target("<=", 1.0))
    with ctx.uvicorn_app("rss-baseline", BASELINE_APP) as base:
        base.wait_until_answers(PREDICT)
        http_get(base.port, PREDICT)
        after.baseline_samples.append(base.rss_mib())
    checkpoints: list[tuple[int, float, int]] = []  # tasks done, RSS MiB, database bytes
    with ctx.fpx_server("rss-fpx") as fpx:
        fpx.wait_until_answers("/readyz")
        http_get(fpx.port, PREDICT)
        started_mib = fpx.rss_mib()
        done = 0
        while done < c.rss_tasks + c.growth_tasks:
            batch = min(c.tasks, c.rss_tasks + c.growth_tasks - done)
            result = load.counted_post(fpx.url + "/tasks", NO_TASK, batch, c.connections)
            done += result.requests - result.errors
            _wait_succeeded(fpx, done)
            checkpoints.append((done, fpx.rss_mib(), _database_bytes(Path(fpx.env["FPX_DB"]))))
    at_rss_tasks = next(cp for cp in checkpoints if cp[0] >= c.rss_tasks)
    after.fpx_samples.append(at_rss_tasks[1])
    (first, first_mib, first_db), (last, last_mib, last_db) = at_rss_tasks, checkpoints[-1]
    if last > first:
        growth.fpx_samples.append((last_mib - first_mib) * 1024 * 1024 / (last - first))
        growth.baseline_samples.append((last_db - first_db) / (last - first))
    growth.note = (
        f"from task {first:,} to task {last:,}; RSS {started_mib:.1f} MiB after start-up, then "
        + ", ".join(f"{mib:.1f} MiB after {n:,}" for n, mib, _ in checkpoints)
        + ". The first tasks fill SQLite's page cache (2 MiB by default), so growth is "
        "counted after them, against the database file's growth over the same tasks."
    )
    return [after, growth]
