"""The records of the servers fpx started: where they are kept, read, written.

One record per server, `servers/<pid>.json` in the state directory: $FPX_STATE_DIR if set, else
$XDG_RUNTIME_DIR/fpx (cleared at logout, as a running server's record should be), else
$XDG_DATA_HOME/fpx or ~/.local/share/fpx. A foreground `fpx serve` records its server once it is
ready and removes the record when it stops, so that client commands and `fpx status` find it.
`fpx serve --detach` writes its record as soon as the server is spawned, marked `starting`, and
again once it is ready: were fpx killed in between (even by SIGKILL, which it cannot catch),
`fpx status` and `fpx stop` still see, and stop, the server it left starting. One detached
server at a time: `detach_lock` makes the check and the first record of a detached start one
step, so of several started at once exactly one is recorded and the others start nothing.
Records are written to a file of their own and renamed into place, so that a reader never sees
half of one and two writers never share a file.
A record whose process is gone, or whose pid now belongs to another process, is stale; one that
cannot be read as a record (edited by hand) is broken: reading removes both, so neither is ever
trusted. A state directory that does not exist holds no record; one that cannot be a directory
(a file, /proc/...) or cannot be read or written is a StateDirError, one line naming it and
where it came from.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from cli import procs
from cli.errors import UsageError

RECORDS = "servers"
LOG_NAME = "server.log"
LOCK_NAME = "detach.lock"


class StateDirError(UsageError):
    """The state directory is not one fpx can use (exit 2: the setting is wrong)."""


def _state_dir() -> tuple[Path, str]:
    """The state directory, and which setting chose it."""
    if explicit := os.environ.get("FPX_STATE_DIR"):
        return Path(explicit), "FPX_STATE_DIR"
    if runtime := os.environ.get("XDG_RUNTIME_DIR"):
        return Path(runtime) / "fpx", "$XDG_RUNTIME_DIR/fpx"
    if data := os.environ.get("XDG_DATA_HOME"):
        return Path(data) / "fpx", "$XDG_DATA_HOME/fpx"
    return Path.home() / ".local" / "share" / "fpx", "~/.local/share/fpx"


def state_dir() -> Path:
    return _state_dir()[0]


def unusable(exc: OSError, what: str = "is not usable") -> StateDirError:
    """The error for a state directory that `exc` says fpx cannot use."""
    path, source = _state_dir()
    if isinstance(exc, NotADirectoryError):
        what, why = "is not usable", "it is not a directory"
    else:
        why = (exc.strerror or str(exc)).lower()
    hint = "" if source == "FPX_STATE_DIR" else " (set FPX_STATE_DIR to another)"
    return StateDirError(f"the state directory {path} ({source}) {what}: {why}{hint}")


def ensure_dir() -> Path:
    """The state directory, created if need be; StateDirError if it cannot be written."""
    path = state_dir()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError:  # something that is not a directory
        raise unusable(NotADirectoryError()) from None
    except OSError as exc:
        raise unusable(exc, "cannot be created") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise unusable(PermissionError(13, "Permission denied"), "cannot be written")
    return path


def record_path(pid: int) -> Path:
    return state_dir() / RECORDS / f"{pid}.json"


def log_path() -> Path:
    return state_dir() / LOG_NAME


def open_log(mode: str) -> IO[bytes]:
    """The detached server's log, opened in `mode` ("rb", "ab"...); StateDirError naming it
    when it cannot be (a directory of that name, no permission). FileNotFoundError and
    NotADirectoryError (the state directory is a file, or below one) as they are."""
    path = log_path()
    try:
        return path.open(mode)  # type: ignore[return-value]
    except (FileNotFoundError, NotADirectoryError):  # no log; the directory is not one
        raise
    except OSError as exc:
        why = (exc.strerror or str(exc)).lower()
        doing = "read" if "r" in mode else "written"
        raise StateDirError(f"the server log {path} cannot be {doing}: {why}") from None


@dataclass(frozen=True)
class ServerRecord:
    url: str
    pid: int
    db: str
    started_at: float
    # The detached server's log file; None for a foreground one (its log is on its terminal).
    log: str | None = None
    # Linux: the process's start time in clock ticks, so a reused pid is not mistaken for it.
    proc_start: int | None = None
    stop_timeout: float = 10.0
    # Still starting: the `fpx serve --detach` (pid, start time) waiting for it to be ready.
    starting: bool = False
    launcher: int | None = None
    launcher_start: int | None = None
    detached: bool = True

    @classmethod
    def parse(cls, data: object) -> ServerRecord | None:
        """The record `data` (a JSON object) holds, or None if it is not one: a record may
        have been edited by hand, so each field is checked against its type."""
        if not isinstance(data, dict) or not REQUIRED <= set(data) <= set(FIELD_TYPES):
            return None
        for name, value in data.items():
            # bool is an int to isinstance: true is no pid, nor a time.
            if isinstance(value, bool) is not (bool in FIELD_TYPES[name]) and value is not None:
                return None
            if not isinstance(value, FIELD_TYPES[name]):
                return None
        record = cls(**data)
        return record if record.pid > 0 else None

    @property
    def uptime(self) -> float:
        return max(0.0, time.time() - self.started_at)

    def is_running(self) -> bool:
        return procs.is_running(self.pid, self.proc_start)

    def launcher_is_gone(self) -> bool:
        """A starting server whose `fpx serve --detach` died before it was ready."""
        return self.starting and not (
            self.launcher is not None and procs.is_running(self.launcher, self.launcher_start)
        )


# What each field of a record file may hold (JSON: a float may be written as an integer).
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "url": (str,), "pid": (int,), "db": (str,), "started_at": (int, float),
    "log": (str, type(None)), "proc_start": (int, type(None)), "stop_timeout": (int, float),
    "starting": (bool,), "launcher": (int, type(None)), "launcher_start": (int, type(None)),
    "detached": (bool,),
}
REQUIRED = {"url", "pid", "db", "started_at"}


def save(record: ServerRecord) -> Path:
    """Write `record` as its server's record: to a file of its own, renamed into place."""
    path = record_path(record.pid)
    folder = ensure_dir() / RECORDS
    try:
        folder.mkdir(exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{record.pid}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(json.dumps(asdict(record), indent=2) + "\n")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise unusable(exc) from None
    return path


def remove(pid: int) -> None:
    """Remove the record of the server `pid`."""
    try:
        record_path(pid).unlink(missing_ok=True)
    except NotADirectoryError:  # no directory, no record
        pass
    except OSError as exc:
        raise unusable(exc) from None


@contextlib.contextmanager
def detach_lock() -> Iterator[None]:
    """Held by `fpx serve --detach` from its check that no detached server runs until its
    server is recorded: of starts racing each other, one records, the others see it."""
    import fcntl

    path = ensure_dir() / LOCK_NAME
    try:
        lock = path.open("a")
    except OSError as exc:
        raise unusable(exc) from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@dataclass(frozen=True)
class Lookup:
    """What reading the records found: the live servers, newest first, and the stale ones
    that were removed."""

    live: list[ServerRecord]
    stale: list[ServerRecord]

    @property
    def detached(self) -> ServerRecord | None:
        return next((r for r in self.live if r.detached), None)

    @property
    def foreground(self) -> ServerRecord | None:
        return next((r for r in self.live if not r.detached), None)

    @property
    def stale_detached(self) -> ServerRecord | None:
        return next((r for r in self.stale if r.detached), None)


def lookup() -> Lookup:
    """Every recorded server that still runs; stale and broken records are removed."""
    folder = state_dir() / RECORDS
    try:
        names = os.listdir(folder)
    except FileNotFoundError:  # no state directory yet, or no record in it ever
        names = []
    except OSError as exc:  # it, or a folder above it, is a file; or it cannot be read
        raise unusable(exc) from None
    paths = sorted(folder / name for name in names if name.endswith(".json"))
    live: list[ServerRecord] = []
    stale: list[ServerRecord] = []
    for path in paths:
        try:
            text = path.read_text()
        except FileNotFoundError:  # removed meanwhile
            continue
        except OSError as exc:
            raise unusable(exc) from None
        try:
            record = ServerRecord.parse(json.loads(text))
        except ValueError:
            record = None
        if record is not None and record.is_running():
            live.append(record)
            continue
        if record is not None:
            stale.append(record)
        with contextlib.suppress(OSError):
            path.unlink()
    live.sort(key=lambda r: r.started_at, reverse=True)
    return Lookup(live, stale)


def running() -> ServerRecord | None:
    """The server client commands talk to by default: the detached one, else the newest
    foreground one."""
    found = lookup()
    return found.detached or found.foreground
