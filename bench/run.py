"""`python -m bench` (`make bench`): every figure against its baseline, a table, RESULTS.md.

    python -m bench                     # the full run: a few minutes on 2 cores
    python -m bench --quick --only help --output /tmp/r.md   # seconds: the smoke test's run
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import cli_figures, hostile_figures, job_figures, scale_figures, server_figures, tools
from bench.context import QUICK, Config, Context
from bench.explanations import explain
from bench.procs import ROOT, BenchError
from bench.report import Row, results_markdown, text_table

Figure = Callable[[Context], list[Row]]

FIGURES: dict[str, tuple[str, Figure]] = {
    "predict": ("`fpx predict 3.5` wall time", cli_figures.predict_wall_time),
    "help": ("`fpx --help` wall time", cli_figures.help_wall_time),
    "rps": ("`/predict` requests/s and p99", server_figures.predict_throughput),
    "metrics": ("`/predict` with metrics on and off", server_figures.predict_with_metrics),
    "busy": ("`/predict` p99 while tasks sleep", server_figures.predict_under_sleeping_tasks),
    "tasks": ("`POST /tasks` submissions", server_figures.task_submissions),
    "launch": ("launch -> ready, RSS after start-up", server_figures.launch_and_memory),
    "memory": ("RSS after many tasks", server_figures.memory_after_tasks),
    "cpu-jobs": ("`/predict` p99 while CPU-bound jobs run", job_figures.predict_under_cpu_jobs),
    "job-wall": ("a CPU-bound job's wall time", job_figures.cpu_job_wall_time),
    "batch": ("`predict_batch` against one request each", job_figures.predict_batch_vs_requests),
    "hostile": ("`/predict` p99 under hostile bodies", hostile_figures.predict_while_hostile),
    # On PostgreSQL (FPX_BENCH_POSTGRES_URL, else the local server): `--only pg-claim,...`
    "pg-claim": ("claim rate against procrastinate", scale_figures.claim_rate),
    "pg-hosts": ("2 hosts against 1 on PostgreSQL", scale_figures.two_hosts),
    "pg-submit": ("`POST /tasks` on PostgreSQL against SQLite", scale_figures.submissions),
    "pg-wake": ("an idle host's wake-up", scale_figures.idle_host_wake_up),
}


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny counts and durations (a smoke test, not a measurement)")
    parser.add_argument("--only", metavar="NAMES", default=",".join(FIGURES),
                        help=f"comma-separated figures to run, of: {', '.join(FIGURES)}")
    parser.add_argument("--no-install", action="store_true",
                        help="do not apt-get missing tools; skip the rows that need them")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "RESULTS.md",
                        help="where to write the results (default: bench/RESULTS.md)")
    args = parser.parse_args(argv)
    args.only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in args.only if n not in FIGURES]
    if unknown:
        parser.error(f"unknown figures {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    return args


def run_figure(name: str, ctx: Context) -> list[Row]:
    title, figure = FIGURES[name]
    say(f"{title} ...")
    started = time.perf_counter()
    try:
        rows = figure(ctx)
    except (BenchError, OSError) as exc:
        say(f"{title}: skipped: {exc}")
        return [Row(title, "-", "", skipped=str(exc).splitlines()[0])]
    say(f"{title}: {time.perf_counter() - started:.0f} s")
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = QUICK if args.quick else Config()
    if not args.no_install:
        tools.ensure_debian_tools(say)
    with tempfile.TemporaryDirectory(prefix="fpx-bench-") as tmp:
        ctx = Context(config, Path(tmp), say)
        if ctx.pinning.client is not None:
            os.sched_setaffinity(0, ctx.pinning.client)  # the clients it starts inherit it
        say(ctx.pinning.describe())
        rows = [row for name in args.only for row in run_figure(name, ctx)]
        setup = [
            f"CPU pinning: {ctx.pinning.describe()}",
            f"load generator: {ctx.load_tool or 'none'}; servers log at warning, access log "
            "off, one worker, uvloop + httptools (uvicorn's auto choice for both)",
            "counts: " + ", ".join(f"{k}={v}" for k, v in vars(config).items()),
        ]
    print(text_table(rows))
    command = "make bench" if not argv and not args.quick else shlex.join(
        ["python", "-m", "bench", *(argv or sys.argv[1:])]
    )
    args.output.write_text(
        results_markdown(rows, command=command, setup=setup, notes=explain(rows))
    )
    say(f"wrote {args.output}")
    return 0
