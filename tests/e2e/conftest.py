"""Real `fpx` processes (`python -m cli`), each test in its own working directory.

Every process a test starts runs in that directory, so whatever is left behind (fpx, a server,
its workers) is found by its working directory: the `workdir` fixture fails a test that leaves
a process running, after killing it by pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cli import procs
from tests.helpers import wait_until

FPX = [sys.executable, "-m", "cli"]


def processes_in(directory: Path) -> list[int]:
    """Live processes whose working directory is `directory`."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == str(directory) and procs.is_running(int(entry.name)):
            found.append(int(entry.name))
    return found


def records(workdir: Path) -> list[dict]:
    """The server records in the state directory the e2e runs use (workdir/state)."""
    folder = workdir / "state" / "servers"
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def can_listen(port: int) -> bool:
    """Whether a server could listen on `port` again (as uvicorn binds: SO_REUSEADDR, so the
    connections a test made, now in TIME_WAIT, do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen(1)
        except OSError:
            return False
    return True


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "work"
    path.mkdir()
    yield path
    try:
        wait_until(lambda: not processes_in(path), timeout=15, what="no process left")
    except AssertionError:
        left = processes_in(path)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        pytest.fail(f"processes left behind (now killed): {left}")


@pytest.fixture
def env(workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FPX_STATE_DIR": str(workdir / "state"),
        "FPX_SHUTDOWN_TIMEOUT": "1",
        "FPX_LOG_LEVEL": "info",
    }


def run(workdir: Path, env: dict[str, str], *args: str, timeout: float = 60):
    return subprocess.run(
        [*FPX, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )


class Serve:
    """`fpx serve ...` running in the foreground: its stdout read as it comes."""

    def __init__(self, workdir: Path, env: dict[str, str], *args: str,
                 preexec_fn: Callable[[], object] | None = None) -> None:
        self.stderr_path = workdir / "serve.err"
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                [*FPX, "serve", "--port", "0", "--db", str(workdir / "fpx.db"), *args],
                cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=stderr,
                stdin=subprocess.DEVNULL, preexec_fn=preexec_fn,
            )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.decode())

    def ready(self, timeout: float = 60) -> dict:
        """The ready document `fpx serve` prints (JSON, as stdout is a pipe)."""
        wait_until(lambda: self.lines or self.proc.poll() is not None, timeout,
                   what="fpx serve to be ready")
        assert self.lines, f"fpx serve exited {self.proc.returncode}:\n{self.stderr()}"
        return json.loads(self.lines[0])

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code


def kill_all(started: list[subprocess.Popen]) -> None:
    """End the processes a test started that are still running, by pid."""
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def serve(workdir: Path, env: dict[str, str]) -> Iterator:
    """Start `fpx serve` with extra arguments; every one started is killed at the end."""
    started: list[Serve] = []

    def start(*args: str, extra_env: dict[str, str] | None = None,
              preexec_fn: Callable[[], object] | None = None) -> Serve:
        started.append(Serve(workdir, {**env, **(extra_env or {})}, *args, preexec_fn=preexec_fn))
        return started[-1]

    yield start
    kill_all([s.proc for s in started])


@pytest.fixture
def spawn(workdir: Path, env: dict[str, str]) -> Iterator:
    """Start `fpx ARGS...`, its stdout and stderr read as text through pipes; every one
    started is killed at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        started.append(subprocess.Popen(
            [*FPX, *args], cwd=workdir, env={**env, **(extra_env or {})}, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        ))
        return started[-1]

    yield start
    kill_all(started)
