"""Jobs for the tests, registered as FPX_JOBS entries: `name=tests.server.sample_jobs:attr`."""

from __future__ import annotations

import asyncio
import os
import signal
import time

from server.jobs import JobContext, in_thread


def count(ctx: JobContext, n: int, every: int = 1000) -> int:
    """Count to n in pure Python (CPU-bound), reporting progress."""
    total = 0
    for i in range(1, n + 1):
        total += i
        if i % every == 0:
            ctx.progress(i / n, f"{i} of {n}")
            ctx.raise_if_cancelled()
    return total


def spin(seconds: float) -> float:
    """Keep one CPU busy for `seconds` (no context, no progress)."""
    deadline = time.perf_counter() + seconds
    spins = 0
    while time.perf_counter() < deadline:
        spins += 1
    return seconds


def explode(reason: str = "the model exploded") -> None:
    """Raise ValueError."""
    raise ValueError(reason)


def die(how: str = "exit") -> None:
    """Kill this job's own process: os._exit(3) or SIGKILL."""
    if how == "exit":
        os._exit(3)
    os.kill(os.getpid(), signal.SIGKILL)


def stubborn(ctx: JobContext, marker: str) -> str:
    """Ignore cancel: run until terminated; write our pid to `marker` first."""
    with open(marker, "w") as f:
        f.write(str(os.getpid()))
    ctx.progress(0.5, "not stopping")
    while True:
        time.sleep(0.05)


def polite(ctx: JobContext, marker: str) -> str:
    """Stop as soon as cancelled; write our pid to `marker` first."""
    with open(marker, "w") as f:
        f.write(str(os.getpid()))
    while not ctx.cancelled:
        time.sleep(0.01)
    return "stopped"


def pid(ctx: JobContext) -> int:
    """Return this job's process id."""
    return os.getpid()


def not_json() -> object:
    """Return what JSON cannot encode."""
    return {1, 2}


async def tick(ctx: JobContext, steps: int, delay: float = 0.01) -> dict:
    """An async job: `steps` short sleeps, progress after each."""
    for i in range(1, steps + 1):
        await asyncio.sleep(delay)
        ctx.progress(i / steps, f"step {i}")
    return {"steps": steps, "task": ctx.task_id}


@in_thread
def fetch(ctx: JobContext, seconds: float) -> str:
    """An I/O-bound job in a thread: wait `seconds` unless cancelled."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ctx.cancelled:
            return "cancelled"
        time.sleep(0.01)
    ctx.progress(1.0, "fetched")
    return "fetched"


NOT_A_FUNCTION = 42
