"""What every figure shares: the counts it runs with, where it writes, and the servers it
starts (fpx and the baselines, with the same uvicorn settings: log level warning, no access
log, one worker, uvloop and httptools; `fastapi run` alone runs with its own)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import load
from bench.procs import Pinning, Service, free_port


@dataclass(frozen=True)
class Config:
    cli_rounds: int = 15  # runs of each command, after one warm-up run
    load_rounds: int = 3  # timed load runs of each side
    load_seconds: float = 5.0
    warmup_seconds: float = 1.0
    connections: int = 50
    launch_rounds: int = 7
    tasks: int = 2000  # submissions per round of the POST /tasks figure
    task_rounds: int = 3
    rss_tasks: int = 10_000
    growth_tasks: int = 10_000  # more tasks, over which RSS growth per task is measured
    busy_tasks: int = 100  # FPX_MAX_RUNNING of the busy server (the default), all kept sleeping
    # PostgreSQL figures (bench/scale_figures.py)
    claim_tasks: int = 10_000  # the pre-filled queue each worker drains, per turn
    claim_rounds: int = 2  # turns of each: procrastinate takes over a minute for each
    claim_concurrency: int = 10  # fpx's FPX_MAX_RUNNING and procrastinate's --concurrency
    pool_size: int = 10  # connections of each server's (and procrastinate's) pool
    scale_tasks: int = 4000  # submissions per turn of the 2-hosts-against-1 figure
    wake_samples: int = 20  # tasks timed from their 202 to running, each way


QUICK = Config(
    cli_rounds=1, load_rounds=1, load_seconds=1.0, warmup_seconds=0.2, launch_rounds=1,
    tasks=100, task_rounds=1, rss_tasks=200, growth_tasks=200, busy_tasks=10,
    claim_tasks=200, claim_rounds=1, scale_tasks=200, wake_samples=3,
)


class Context:
    def __init__(self, config: Config, workdir: Path, say: Callable[[str], None]) -> None:
        self.config = config
        self.workdir = workdir
        self.say = say
        self.pinning = Pinning.split()
        self._server_cpus = self.pinning.server  # every CPU inside every_cpu()
        self.bin = Path(sys.executable).parent
        self.load_tool = load.load_tool()
        self.env = self._child_env()

    def _child_env(self) -> dict[str, str]:
        """The caller's environment without FPX_* settings; the CLI's state and HTTPie's
        config in the work dir (HTTPie's update check off: no traffic beyond loopback)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FPX_")}
        httpie_config = self.workdir / "httpie"
        httpie_config.mkdir(exist_ok=True)
        (httpie_config / "config.json").write_text(json.dumps({"disable_update_warnings": True}))
        env.update(
            XDG_RUNTIME_DIR=str(self.workdir / "run"),
            XDG_DATA_HOME=str(self.workdir / "data"),
            HTTPIE_CONFIG_DIR=str(httpie_config),
        )
        return env

    @contextlib.contextmanager
    def every_cpu(self) -> Iterator[None]:
        """Inside, the servers started and this process (the clients' poller) run on every
        CPU: the launch figures run as a user's commands would."""
        if self.pinning.every is None or self.pinning.client is None:
            yield
            return
        os.sched_setaffinity(0, self.pinning.every)
        self._server_cpus = self.pinning.every
        try:
            yield
        finally:
            self._server_cpus = self.pinning.server
            os.sched_setaffinity(0, self.pinning.client)

    def _service(self, name: str, argv: list[str], port: int, env: dict[str, str],
                 stdout_pipe: bool = False) -> Service:
        return Service(
            name, argv, port, env=env, log_path=self.workdir / f"{name}.log",
            cpus=self._server_cpus, stdout_pipe=stdout_pipe,
        )

    def fpx_server(self, name: str, db: str | None = None, db_url: str | None = None,
                   **settings: str) -> Service:
        """`python -m server` on a free port and a database of its own in the work dir (or the
        one `db_url` names: a PostgreSQL database several servers share)."""
        port = free_port()
        env = {
            **self.env,
            "FPX_HOST": "127.0.0.1",
            "FPX_PORT": str(port),
            "FPX_DB": db_url or str(self.workdir / f"{db or name}.db"),
            "FPX_LOG_LEVEL": "warning",
            "FPX_SHUTDOWN_TIMEOUT": "0",  # stopping a busy benchmark server need not wait
            **{f"FPX_{k.upper()}": v for k, v in settings.items()},
        }
        return self._service(name, [sys.executable, "-m", "server"], port, env)

    def process(self, name: str, argv: list[str], env: dict[str, str]) -> Service:
        """Any other long-running process (a peer's worker), on the servers' CPUs; it serves
        no port."""
        return self._service(name, argv, 0, env)

    def fpx_serve(self, name: str, db: str) -> Service:
        """`fpx serve --json`, which prints one line when its server is ready."""
        port = free_port()
        argv = [
            str(self.bin / "fpx"), "serve", "--port", str(port), "--db",
            str(self.workdir / f"{db}.db"), "--log-level", "warning", "--json",
        ]
        env = {**self.env, "FPX_SHUTDOWN_TIMEOUT": "0"}
        return self._service(name, argv, port, env, stdout_pipe=True)

    def uvicorn_app(self, name: str, app: str) -> Service:
        """A baseline app (bench.seed_app:app, bench.baseline_app:app, ...) on bare uvicorn."""
        port = free_port()
        argv = [
            sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ]
        return self._service(name, argv, port, self.env)

    def fastapi_run(self, name: str, fastapi: str, path: str) -> Service:
        """`fastapi run PATH` (fastapi-cli), as its docs start an app, on loopback only (its
        default host is 0.0.0.0). It has no log-level or access-log option: it logs at info,
        with an access line per request, as a user running it would see."""
        port = free_port()
        argv = [fastapi, "run", path, "--host", "127.0.0.1", "--port", str(port)]
        return self._service(name, argv, port, self.env)
