"""Real server processes for tests: started on a free port, waited on by polling, always stopped.

    with ServerProcess(tmp_path) as server:
        httpx.get(server.url + "/predict", params={"x": 1})

The server runs in its own process group, so stopping it (SIGTERM, then SIGKILL after a
deadline) also stops any uvicorn workers it spawned. Nothing is stopped by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


class ServerProcess:
    def __init__(
        self,
        workdir: Path,
        env: dict[str, str] | None = None,
        *,
        db: Path | None = None,
        port: int | None = None,
        ready_timeout: float = 20.0,
        wait_ready: bool = True,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.db = db or self.workdir / "fpx.db"
        self.log_path = self.workdir / f"server-{self.port}.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_timeout = ready_timeout
        self.wait_ready = wait_ready
        self.env = {
            **os.environ,
            "FPX_HOST": "127.0.0.1",
            "FPX_PORT": str(self.port),
            "FPX_DB": str(self.db),
            "FPX_LOG_LEVEL": "info",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server"],
                cwd=Path(__file__).resolve().parent.parent,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        if self.wait_ready:
            try:
                self.wait_until_ready()
            except BaseException:
                self.stop()
                raise

    def wait_until_ready(self) -> dict:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                r = httpx.get(self.url + "/readyz", timeout=1.0)
                if r.status_code == 200:
                    return r.json()
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not ready after {self.ready_timeout}s:\n{self.log()}")
            time.sleep(0.05)

    def signal(self, sig: int) -> None:
        """Send `sig` to the server's process group (it and its workers)."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stop gracefully, then by force after `timeout`; reap the whole process group."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(5)
        # Workers of a killed supervisor may outlive it: end the group for good.
        self.signal(signal.SIGKILL)
        return self.proc.returncode
