"""Figures of jobs: `/predict` p99 while CPU-bound jobs run (in job processes, in threads, idle
beside), a CPU-bound job's wall time through fpx against a plain Python process, and
predict_batch against as many `GET /predict` requests on one connection.

The CPU-bound job is `crunch`, below: a pure-Python loop of a fixed number of steps (not of a
fixed time), so that whatever slows it shows. The servers register it as FPX_JOBS.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench import load
from bench.context import QUICK, Context
from bench.procs import BenchError, Service, http_get, pinned_to
from bench.report import Row, Target
from server.jobs import JobContext, in_thread

PREDICT = "/predict?x=3.5"
CRUNCH_JOBS = ",".join(f"{name}=bench.job_figures:{name}" for name in (
    "crunch", "crunch_until_cancelled", "crunch_in_thread"))
CHUNK = 100_000  # steps between two looks at ctx.cancelled
BATCH = 10_000
POLL = 0.002  # seconds between GET /tasks/ID while waiting for a job
# While a CPU-bound job runs on the server's CPU, each poll takes from it: poll less often.
POLL_CPU_BOUND = 0.02


def crunch(steps: int) -> int:
    """A pure-Python CPU-bound loop of `steps` steps."""
    total = 0
    for i in range(steps):
        total = (total + i * i) % 1_000_003
    return total


def crunch_until_cancelled(ctx: JobContext, steps: int) -> int:
    """The same loop, in chunks, stopping when the task is cancelled."""
    done = 0
    while done < steps and not ctx.cancelled:
        crunch(min(CHUNK, steps - done))
        done += CHUNK
    return done


@in_thread
def crunch_in_thread(ctx: JobContext, steps: int) -> int:
    """The same loop in a thread of the server, as the seed's cpu_bound_task ran."""
    return crunch_until_cancelled(ctx, steps)


def _steps_for(seconds: float) -> int:
    """How many steps of `crunch` take about `seconds` here (on this process's CPUs)."""
    steps = 100_000
    while True:
        started = time.perf_counter()
        crunch(steps)
        took = time.perf_counter() - started
        if took > 0.2:
            return int(steps * seconds / took)
        steps *= 4


def _post(client: httpx.Client, body: dict) -> str:
    r = client.post("/tasks", json=body)
    if r.status_code != 202:
        raise BenchError(f"POST /tasks answered {r.status_code}: {r.text[:200]}")
    return r.json()["id"]


def _until_finished(
    client: httpx.Client, task_id: str, timeout: float, poll: float = POLL
) -> dict:
    deadline = time.perf_counter() + timeout
    while True:
        task = client.get(f"/tasks/{task_id}").json()
        if task["status"] not in ("pending", "running"):
            if task["status"] != "succeeded":
                raise BenchError(f"task {task_id} {task['status']}: {task.get('error')}")
            return task
        if time.perf_counter() > deadline:
            raise BenchError(f"task {task_id} still {task['status']} after {timeout:g} s")
        time.sleep(poll)


def _job_processes(server: Service) -> list[int]:
    """The server's job processes (its children that multiprocessing spawned)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == server.pid and b"spawn_main" in cmdline:
            pids.append(int(entry.name))
    return pids


def predict_under_cpu_jobs(ctx: Context) -> list[Row]:
    processes = 1 if len(os.sched_getaffinity(0)) <= 2 else len(ctx.pinning.client or ()) or 1
    idle = "the same server idle"
    in_processes = Row(
        f"`/predict` p99 while {processes} CPU-bound job(s) run in job processes", idle, "ms",
        Target("<=", 2.0),
    )
    in_threads = Row(
        f"`/predict` p99 while {processes} CPU-bound job(s) run in the server's threads", idle,
        "ms",
    )
    steps = _steps_for(3600)  # outlasts a turn; cancelled at its end
    turns = {"idle": None, "processes": "crunch_until_cancelled", "threads": "crunch_in_thread"}
    p99s: dict[str, list[float]] = {turn: [] for turn in turns}
    settings = {"jobs": CRUNCH_JOBS, "job_processes": str(processes)}
    with ctx.fpx_server("cpu-jobs", **settings) as server, \
            httpx.Client(base_url=server.url) as client:
        server.wait_until_answers("/readyz")
        # The job processes get CPUs of their own where there are some: here, those of the
        # load generator, as the server's own CPU is what the figure is about.
        for pid in _job_processes(server):
            if ctx.pinning.client is not None:
                os.sched_setaffinity(pid, ctx.pinning.client)
        _p99(ctx, server, ctx.config.warmup_seconds)
        for _ in range(ctx.config.load_rounds):
            for turn, job in turns.items():  # one after the other: each turn has the CPU alone
                ids = [_post(client, {"job": job, "args": {"steps": steps}})
                       for _ in range(processes if job else 0)]
                for task_id in ids:
                    _running(client, task_id)
                p99s[turn].append(_p99(ctx, server, ctx.config.load_seconds))
                for task_id in ids:
                    if client.post(f"/tasks/{task_id}/cancel").status_code != 200:
                        raise BenchError(f"task {task_id} ended before its turn did")
    in_processes.fpx_samples, in_threads.fpx_samples = p99s["processes"], p99s["threads"]
    in_processes.baseline_samples = in_threads.baseline_samples = p99s["idle"]
    where = "the load generator's CPU" if ctx.pinning.client is not None else "any CPU"
    in_processes.note = (
        f"One server, turns taken idle / job processes / threads. FPX_JOB_PROCESSES={processes},"
        f" the job process on {where}; the loop is pure Python (bench/job_figures.py:crunch)."
    )
    in_threads.note = (
        "The same loop marked @in_thread: a thread of the server, on the server's CPU, holding "
        "its GIL between switches, as the seed's cpu_bound_task did in the threadpool."
    )
    return [in_processes, in_threads]


def _p99(ctx: Context, server: Service, seconds: float) -> float:
    if ctx.load_tool is None:
        raise BenchError("neither wrk nor hey is installed")
    run = load.timed_get(ctx.load_tool, server.url + PREDICT, ctx.config.connections, seconds)
    if run.errors or run.p99_ms is None:
        raise BenchError(f"{run.errors} of {run.requests} requests failed, p99 {run.p99_ms}")
    return run.p99_ms


def _running(client: httpx.Client, task_id: str, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while client.get(f"/tasks/{task_id}").json()["status"] != "running":
        if time.perf_counter() > deadline:
            raise BenchError(f"task {task_id} did not start within {timeout:g} s")
        time.sleep(POLL)


def cpu_job_wall_time(ctx: Context) -> list[Row]:
    seconds = 0.2 if ctx.config == QUICK else 2.0
    plain = "the same function in a plain `python` process"
    row = Row(f"a {seconds:g} s CPU-bound job, submission to succeeded", plain, "s",
              Target("<=", 1.1))
    steps = int(_in_plain_python(ctx, f"print(_steps_for({seconds}))", _steps_for, crunch))
    with ctx.fpx_server("cpu-job-wall", jobs=CRUNCH_JOBS, job_processes="1") as server, \
            httpx.Client(base_url=server.url) as client:
        server.wait_until_answers("/readyz")
        for turn in range(ctx.config.load_rounds + 1):  # the first of each is a warm-up
            started = time.perf_counter()
            task_id = _post(client, {"job": "crunch", "args": {"steps": steps}})
            _until_finished(client, task_id, seconds * 20 + 30, POLL_CPU_BOUND)
            took = time.perf_counter() - started
            timed = (f"import time; t = time.perf_counter(); crunch({steps}); "
                     "print(time.perf_counter() - t)")
            baseline = float(_in_plain_python(ctx, timed, crunch))
            if turn:
                row.fpx_samples.append(took)
                row.baseline_samples.append(baseline)
    row.note = (
        f"{steps:,} steps of bench/job_figures.py:crunch on the server's CPU either way. fpx: "
        f"POST /tasks until GET /tasks/ID says succeeded (polled every {POLL_CPU_BOUND * 1000:g}"
        " ms); the "
        "plain process: the call alone, timed inside it (its start-up not counted)."
    )
    return [row]


def _in_plain_python(ctx: Context, code: str, *functions: Any) -> str:
    """What `code` prints in a new `python` on the server's CPUs, given the source of
    `functions` (and nothing of fpx imported)."""
    source = "\n".join(inspect.getsource(fn) for fn in functions)
    return subprocess.run(
        [sys.executable, "-c", f"import time\n{source}\n{code}"], env=ctx.env, check=True,
        capture_output=True, text=True, preexec_fn=pinned_to(ctx.pinning.server), timeout=300,
    ).stdout


def predict_batch_vs_requests(ctx: Context) -> list[Row]:
    n = 1000 if ctx.config == QUICK else BATCH
    rounds = ctx.config.load_rounds
    one_by_one = f"{n:,} `GET /predict`, one httpx client, one connection"
    row = Row(f"`predict_batch` of {n:,} inputs, submission to succeeded", one_by_one, "s")
    inputs = [i % 100 / 4 for i in range(n)]
    with ctx.fpx_server("batch") as server:
        server.wait_until_answers("/readyz")
        expected = [json.loads(http_get(server.port, f"/predict?x={x!r}")[1])["result"]
                    for x in inputs[:5]]
        with httpx.Client(base_url=server.url) as client:
            for _ in range(rounds):
                started = time.perf_counter()
                task = _until_finished(
                    client, _post(client, {"job": "predict_batch", "args": {"inputs": inputs}}), 120
                )
                row.fpx_samples.append(time.perf_counter() - started)
                if task["result"][:5] != expected or len(task["result"]) != n:
                    raise BenchError("predict_batch and GET /predict disagree")
                started = time.perf_counter()
                for x in inputs:
                    r = client.get("/predict", params={"x": x})
                    if r.status_code != 200:
                        raise BenchError(f"GET /predict answered {r.status_code}")
                row.baseline_samples.append(time.perf_counter() - started)
    row.note = (
        "The same inputs, the same server and model; ratio under 1 is the batch being faster. "
        f"The batch's time includes its wait for the result (polled every {POLL * 1000:g} ms)."
    )
    return [row]
