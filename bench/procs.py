"""The processes a benchmark starts: servers and one-shot commands.

A server runs in its own process group on the CPUs it is given, is polled until it answers
(every few milliseconds, with a deadline) and is always stopped by its process group. Nothing is
found or stopped by name.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLL_INTERVAL = 0.002


class BenchError(RuntimeError):
    """A process the benchmark needs failed; the figure it was for is skipped."""


@dataclass(frozen=True)
class Pinning:
    """Which CPUs the servers get, and which the load generators and clients get; `every` is
    all of them (the launch figures run on the whole machine, as a user's commands do)."""

    server: frozenset[int] | None
    client: frozenset[int] | None
    every: frozenset[int] | None = None

    @classmethod
    def split(cls) -> Pinning:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if len(cpus) < 2:
            return cls(None, None)
        half = len(cpus) // 2
        return cls(frozenset(cpus[:half]), frozenset(cpus[half:]), frozenset(cpus))

    def describe(self) -> str:
        if self.server is None or self.client is None:
            return "not pinned (fewer than 2 CPUs): the load generator competes with the server"
        return (
            f"servers on CPU {_cpus(self.server)}, load generators and clients on CPU "
            f"{_cpus(self.client)}; launch -> ready on every CPU"
        )


def _cpus(cpus: frozenset[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def pinned_to(cpus: frozenset[int] | None):
    """A preexec_fn that moves the child onto `cpus` before it runs anything."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def http_post_json(port: int, path: str, body: bytes, timeout: float = 5.0) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class Service:
    """One server process. `started` is when it was launched (time.perf_counter())."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        port: int,
        *,
        env: dict[str, str],
        log_path: Path,
        cpus: frozenset[int] | None,
        stdout_pipe: bool = False,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = env
        self.log_path = log_path
        self.cpus = cpus
        self.stdout_pipe = stdout_pipe
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.first_line = b""  # what wait_for_output read

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.started = time.perf_counter()
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if self.stdout_pipe else log,
                stderr=log,
                start_new_session=True,
                preexec_fn=pinned_to(self.cpus),
            )

    def check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise BenchError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")

    def wait_until_answers(self, path: str, timeout: float = 30.0) -> float:
        """Poll GET `path` until it answers 200; return the seconds since launch."""
        deadline = self.started + timeout
        while True:
            self.check_alive()
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _ = http_get(self.port, path, timeout=1.0)
                if status == 200:
                    return time.perf_counter() - self.started
            if time.perf_counter() > deadline:
                raise BenchError(f"{self.name} did not answer {path} in {timeout}s")
            time.sleep(POLL_INTERVAL)

    def wait_for_output(self, timeout: float = 30.0) -> float:
        """Wait until the process writes its first line to stdout (`fpx serve --json` does
        when the server is ready); return the seconds since launch. The line is kept in
        `first_line`."""
        assert self.proc is not None and self.proc.stdout is not None
        deadline = self.started + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while not sel.select(timeout=max(0.0, deadline - time.perf_counter())):
                if time.perf_counter() > deadline:
                    raise BenchError(f"{self.name} wrote nothing in {timeout}s")
            elapsed = time.perf_counter() - self.started
        self.first_line = self.proc.stdout.readline()
        if not self.first_line:
            self.check_alive()
            raise BenchError(f"{self.name} closed its stdout:\n{self.log_tail()}")
        return elapsed

    def rss_mib(self) -> float:
        """Resident memory of the server process, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise BenchError(f"no VmRSS for {self.name} (pid {self.pid})")

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, SIGKILL it after `timeout`; reap it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(5)
        self._signal(signal.SIGKILL)  # anything the server left in its group
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)


def run_tool(argv: Sequence[str], timeout: float, env: dict[str, str] | None = None) -> str:
    """Run a one-shot command (on the benchmark's own CPUs) and return its stdout."""
    done = subprocess.run(
        list(argv), cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True,
        timeout=timeout, check=False,
    )
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()[-800:]
        raise BenchError(f"{' '.join(argv)} exited with {done.returncode}: {err}")
    return done.stdout.decode(errors="replace")


def time_command(argv: Sequence[str], env: dict[str, str], timeout: float = 60.0) -> float:
    """Wall time of one run of a command, in seconds; a failing run is an error."""
    started = time.perf_counter()
    run_tool(argv, timeout, env)
    return time.perf_counter() - started
