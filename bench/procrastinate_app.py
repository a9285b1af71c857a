"""The claim-rate peer: a procrastinate app with one no-op task, as procrastinate's docs define
an app. Its worker runs as `procrastinate --app bench.procrastinate_app.app worker`, on the
database and with the pool size the figure sets in BENCH_PROCRASTINATE_URL and
BENCH_POOL_SIZE (bench/scale_figures.py)."""

from __future__ import annotations

import os

from procrastinate import App, PsycopgConnector

POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "10"))

app = App(
    connector=PsycopgConnector(
        conninfo=os.environ.get("BENCH_PROCRASTINATE_URL", ""),
        min_size=POOL_SIZE,
        max_size=POOL_SIZE,
    )
)


@app.task(name="noop")
async def noop() -> None:
    """Nothing: what is measured is the queue's own work."""
