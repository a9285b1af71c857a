"""The server subprocess: claim the port, start `python -m server`, wait until it is ready, stop.

- The port is checked (bound and released) before anything starts, so a port in use is
  reported at once, not after the server has loaded its models.
- The server runs as `sys.executable -P -m server` in its own process group, configured by FPX_*
  variables. On Linux it also gets PR_SET_PDEATHSIG: if fpx dies, even by SIGKILL, the server
  is sent SIGTERM and shuts down (uvicorn's supervisor then stops its workers too).
- Ready means: `/readyz` answers 200 *and* the listening socket on that port belongs to the
  process we started (Linux, via /proc), so another program on the port is never mistaken for it.
- A server that exits during start-up is reported with the reason it logged and its last lines.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from cli import procs
from cli.errors import CliError, Unreachable, UsageError

if TYPE_CHECKING:
    import httpx

# The server: `-P` keeps the directory fpx runs in from coming first on its path (see
# server_env), and sys.executable makes it the same Python as fpx's, in any venv.
SERVER_COMMAND = (sys.executable, "-P", "-m", "server")
# Ctrl-C, a stop, a closed terminal: what stops a server fpx runs (StopOnSignals).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# /readyz is polled this often: a refused connection costs ~0.1 ms, and each poll saved here
# was up to this much of `fpx serve`'s start-up time.
READY_POLL_INTERVAL = 0.003
TAIL_LINES = 12
# Lines of a log entry: "2026-12-01 07:58:59,746 ERROR   fpx.lifespan: loading ... failed ..."
_LOG_ERROR = re.compile(r"^\S+ \S+ (?:ERROR|CRITICAL)\s+[\w.]+: (?P<message>.+)$")
_LOG_ENTRY = re.compile(r"^\S+ \S+ [A-Z]+\s+[\w.]+: ")
_MODEL_SPEC = re.compile(r"^[^=\s,]+=[\w.]+:[\w.]+$")
WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}

LogOutput = Literal["stream", "capture", "file"]


class PortInUse(CliError):
    pass


class StartupFailed(CliError):
    pass


class StopRequested(Exception):
    """A stop was asked for (Ctrl-C, SIGTERM) before the server was ready."""


@dataclass(frozen=True)
class ServerConfig:
    """What to start: each field becomes the FPX_* variable the server reads."""

    host: str = "127.0.0.1"
    port: int = 8000
    db: Path | str | None = None  # a file, or a PostgreSQL URL
    workers: int = 1
    reload: bool = False
    log_level: str = "info"
    models: tuple[str, ...] | None = None  # None: the server reads FPX_MODELS itself
    max_wait: int | None = None
    token: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for spec in self.models or ():
            if not _MODEL_SPEC.match(spec):
                raise UsageError(f"--model {spec!r} is not of the form NAME=module:attr")

    def env(self, port: int) -> dict[str, str]:
        env = {
            **server_env(),
            "FPX_HOST": self.host,
            "FPX_PORT": str(port),
            "FPX_WORKERS": str(self.workers),
            "FPX_RELOAD": "true" if self.reload else "false",
            "FPX_LOG_LEVEL": self.log_level,
            **self.extra_env,
        }
        if self.db is not None:
            env["FPX_DB"] = str(self.db)
        if self.models is not None:
            env["FPX_MODELS"] = ",".join(self.models)
        if self.max_wait is not None:
            env["FPX_MAX_WAIT"] = str(self.max_wait)
        if self.token:
            env["FPX_API_TOKEN"] = self.token
        return env

    def stop_timeout(self) -> float:
        """How long a graceful stop may take before it is cut short by a kill: the server gives
        open connections up to FPX_SHUTDOWN_TIMEOUT (uvicorn's graceful shutdown), then its
        running tasks as long again before it interrupts them; plus a margin."""
        given = self.extra_env.get("FPX_SHUTDOWN_TIMEOUT") or os.environ.get("FPX_SHUTDOWN_TIMEOUT")
        try:
            shutdown = float(given or 5)
        except ValueError:
            shutdown = 5.0
        return 2 * shutdown + 5.0


def default_db_path() -> Path:
    """The database the server opens without FPX_DB: what server.settings.default_db_path
    says (tests/cli/test_launcher.py checks), without importing pydantic-settings (~50 ms,
    on the CPU the server starts on)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "fpx" / "fpx.db"


def server_env() -> dict[str, str]:
    """The environment of a server fpx starts, before its FPX_* settings are set.

    The server runs with -P (no current directory first on sys.path), so a `server` directory
    where fpx runs cannot shadow ours; the current directory still comes next, so models
    defined there (FPX_MODELS=m=mymodels:load) import as usual.
    """
    env = dict(os.environ)
    ours = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    paths = (ours, os.getcwd(), env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn making the child get SIGTERM when we die (Linux's PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, not in the child
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # we died between fork and prctl: nobody will signal it
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def connect_url(host: str, port: int) -> str:
    """The URL clients use: a wildcard bind address is reached through loopback."""
    host = WILDCARD_HOSTS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def claim_port(host: str, port: int) -> int:
    """The port to start on: `port` if free (a free one if 0); PortInUse if something holds it.

    Bound with SO_REUSEADDR, as uvicorn binds, so connections in TIME_WAIT do not count.
    """
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise UsageError(f"--host {host!r}: {exc.strerror}") from None
    chosen = port
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address[0], chosen, *address[2:]))
            except OSError as exc:
                shown = f"[{host}]" if ":" in host else host
                if chosen == 0 or exc.errno not in (98, 48, 10048):  # EADDRINUSE everywhere
                    raise PortInUse(f"cannot listen on {shown}:{chosen}: {exc.strerror}") from None
                raise PortInUse(f"{shown}:{chosen} is already in use") from None
            if chosen == 0:
                chosen = probe.getsockname()[1]
    return chosen


def ready_answer(client: httpx.Client, base_url: str) -> dict | None:
    """GET /readyz: the server's JSON if it answers 200 ready, else None (not listening yet,
    starting, or not an answer fpx's server gives)."""
    import httpx

    try:
        response = client.get(f"{base_url}/readyz")
    except httpx.TransportError:
        return None
    if response.status_code != 200:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("status") == "ready" else None


def startup_reason(lines: Iterable[str]) -> str | None:
    """Why start-up failed, from the server's log: its first error line, else its last line
    unless that is an ordinary log entry (INFO, WARNING...), which gives no reason."""
    lines = [line.rstrip() for line in lines if line.strip()]
    for line in lines:
        match = _LOG_ERROR.match(line)
        if match and not match["message"].startswith("Traceback"):
            return match["message"]
        if (entry := _json_entry(line)) and entry.get("level") in ("ERROR", "CRITICAL"):
            return str(entry.get("message"))
    for line in lines:
        if line.startswith("fpx: "):
            return line.removeprefix("fpx: ").rstrip(":")
    if not lines:
        return "no output"
    return None if _LOG_ENTRY.match(lines[-1]) or _json_entry(lines[-1]) else lines[-1]


def _json_entry(line: str) -> dict | None:
    """A line of a server that logs JSON (FPX_LOG_FORMAT=json), else None."""
    if not line.startswith("{"):
        return None
    import json

    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and "message" in entry else None


class ServerProcess:
    """One `python -m server` started by fpx.

    output "stream" copies its log lines to our stderr as they come, "capture" only keeps the
    last ones (for an error message), "file" writes them to `log_file` (detached servers).
    """

    def __init__(
        self, config: ServerConfig, *, output: LogOutput = "stream", log_file: Path | None = None,
        detach: bool = False,
    ) -> None:
        self.config = config
        self.output = output
        self.log_file = log_file
        self.detach = detach
        self.port = config.port
        self.url = connect_url(config.host, config.port)
        self.lines: deque[str] = deque(maxlen=500)
        self.popen: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.stop_requested_at: float | None = None
        self._reader: threading.Thread | None = None

    # -- start -------------------------------------------------------------------------------

    def start(self) -> ServerProcess:
        """Claim the port, then start the server (returns at once; see wait_until_ready)."""
        self.port = claim_port(self.config.host, self.config.port)
        self.url = connect_url(self.config.host, self.port)
        log: IO[bytes] | int = subprocess.PIPE
        if self.output == "file":
            assert self.log_file is not None
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            log = self.log_file.open("wb")
        env = self.config.env(self.port)
        self.started = time.perf_counter()
        self.popen = self._spawn(env, log)
        if self.stop_requested_at is not None:  # asked to stop while it was being started
            self.terminate()
        if self.popen.stdout is not None:
            self._reader = threading.Thread(
                target=self._read_log, args=(self.popen.stdout,), daemon=True
            )
            self._reader.start()
        return self

    def _spawn(self, env: dict[str, str], log: IO[bytes] | int) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                SERVER_COMMAND,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own group: a terminal's Ctrl-C reaches fpx only, which stops the server itself.
                # Detached: own session too, so it outlives the terminal; no death signal then.
                start_new_session=self.detach,
                process_group=None if self.detach else 0,
                preexec_fn=None if self.detach else die_with_parent(),
            )
        finally:
            if not isinstance(log, int):
                log.close()

    def _read_log(self, stream: IO[bytes]) -> None:
        echo = self.output == "stream"
        for raw in stream:
            line = raw.decode(errors="replace")
            self.lines.append(line.rstrip("\n"))
            if echo:
                try:
                    sys.stderr.write(line)
                    sys.stderr.flush()
                except (OSError, ValueError):
                    # Our stderr is gone (`fpx serve 2>&1 | head`): keep draining the pipe, or
                    # the server would block on its next log line once the pipe is full.
                    echo = False

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def exit_code(self) -> int | None:
        assert self.popen is not None
        return self.popen.poll()

    # -- ready -------------------------------------------------------------------------------

    def wait_until_ready(self, timeout: float) -> dict:
        """Poll /readyz until our server answers ready; its answer plus the start-up time.

        StartupFailed if it exits first or is not ready by `timeout` (then it is killed);
        StopRequested if a stop was asked for meanwhile.
        """
        import httpx  # here, after the spawn: its import overlaps the server's start-up

        assert self.popen is not None
        deadline = time.monotonic() + timeout
        foreign = False
        # Only our own server is asked: no proxy from the environment, a short timeout for a
        # port that accepts and never answers.
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while True:
                if self.stop_requested_at is not None:
                    raise StopRequested
                code = self.exit_code()
                if code is not None:
                    raise self._failure(f"the server exited during start-up (exit code {code})")
                ready = ready_answer(client, self.url)
                # An answer from the server we started, not from whatever took the port:
                # checked once, on its first "ready".
                if ready is not None and not foreign:
                    if procs.holds_listener(self.pid, self.port) is not False:
                        ready["startup_s"] = round(time.perf_counter() - self.started, 3)
                        return ready
                    foreign = True
                if time.monotonic() > deadline:
                    self.kill()
                    if foreign:
                        raise self._failure(
                            f"another process answers on port {self.port}, not the server"
                            " fpx started", with_reason=False,
                        )
                    raise self._failure(
                        f"the server was not ready within {timeout:g} s", with_reason=False
                    )
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(READY_POLL_INTERVAL)

    def _failure(self, what: str, with_reason: bool = True) -> StartupFailed:
        """`what` went wrong, with the reason the server logged (when it exited) and, as
        context, the last lines it logged (unless they are on screen already)."""
        self._join_reader()
        lines = self.log_lines()
        reason = startup_reason(lines) if with_reason else None
        details = []
        if self.output == "stream":
            details.append("(the server's log is above)" if lines else "(it logged nothing)")
        elif lines:
            details.append("last lines it logged:")
            details.extend(f"  {line}" for line in lines[-TAIL_LINES:])
        if self.log_file is not None:
            details.append(f"full log: {self.log_file}")
        return StartupFailed(f"{what}: {reason}" if reason else what, details)

    def log_lines(self) -> list[str]:
        if self.output == "file" and self.log_file is not None:
            try:
                return self.log_file.read_text(errors="replace").splitlines()
            except OSError:
                return []
        return list(self.lines)

    # -- stop --------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """First call: ask the server to stop (SIGTERM). Later calls: kill it and its group."""
        if self.stop_requested_at is None:
            self.stop_requested_at = time.monotonic()
            if self.popen is not None:
                self.terminate()
        elif self.popen is not None:
            self.kill()

    def terminate(self) -> None:
        # The leader only: uvicorn's supervisor stops its own workers in order.
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def wait(self, stop_timeout: float) -> int:
        """Wait for the server to exit; once a stop was requested, kill it after `stop_timeout`.

        Then end whatever is left of its process group (workers outliving their supervisor)."""
        assert self.popen is not None
        while True:
            try:
                code = self.popen.wait(0.1)
                break
            except subprocess.TimeoutExpired:
                if (
                    self.stop_requested_at is not None
                    and time.monotonic() - self.stop_requested_at > stop_timeout
                ):
                    self.kill()
        self.kill()
        self._join_reader()
        return code

    def stop(self, stop_timeout: float) -> int:
        """Stop gracefully within `stop_timeout`, by force after it."""
        if self.stop_requested_at is None:
            self.request_stop()
        return self.wait(stop_timeout)

    def _join_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=2.0)


class StopOnSignals:
    """While active, SIGINT, SIGTERM and SIGHUP (Ctrl-C, a stop, a closed terminal) stop
    `server` gracefully, and a second one kills it: the signal never interrupts fpx itself,
    so whatever it is doing (starting the server, waiting, stopping it) runs to its end and
    sees `server.stop_requested_at`. `signum` is the first signal, or None.

    Inside `interrupting()`, the first signal also raises KeyboardInterrupt, to cut short
    work of fpx's own (fpx check's requests); a stop that follows is never interrupted.
    """

    def __init__(self, server: ServerProcess, on_first: Callable[[], None] = lambda: None):
        self.server = server
        self.on_first = on_first
        self.signum: int | None = None
        self._interrupt = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopOnSignals:
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        # After a stop signal fpx is on its way out, the server stopped: another Ctrl-C now
        # must not turn that into a KeyboardInterrupt ("Aborted!", exit 1).
        for sig, handler in self._previous.items():
            after = handler if self.signum is None else signal.SIG_IGN
            signal.signal(sig, after)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def interrupting(self) -> Iterator[None]:
        if self.signum is not None:  # it came first
            raise KeyboardInterrupt
        self._interrupt = True
        try:
            yield
        finally:
            self._interrupt = False

    @property
    def exit_code(self) -> int:
        """The shell's code for a command ended by the first signal: 128 + its number."""
        return 128 + (self.signum or signal.SIGINT)

    def _handle(self, signum: int, frame: object) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        self.server.request_stop()
        if first:
            self.on_first()
            if self._interrupt:
                self._interrupt = False
                raise KeyboardInterrupt


def stop_pid(pid: int, started: int | None, timeout: float) -> bool:
    """Stop a server we did not start (a detached one): SIGTERM, and SIGKILL to its group after
    `timeout`. True if it stopped gracefully. Waits until the process is gone either way."""
    if not procs.is_running(pid, started):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    graceful = True
    while procs.is_running(pid, started):
        if time.monotonic() > deadline:
            if not graceful:
                raise Unreachable(f"pid {pid} is still running after SIGKILL")
            graceful = False
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
        time.sleep(0.05)
    # A detached server leads its own group: end any worker that outlived it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    return graceful
