"""The record of the detached server (`fpx serve --detach`): where it is kept, read, written.

One record at a time, `server.json` in the state directory: $FPX_STATE_DIR if set, else
$XDG_RUNTIME_DIR/fpx (cleared at logout, as a running server's record should be), else
$XDG_DATA_HOME/fpx or ~/.local/share/fpx. The detached server's log is `server.log` next to it.
`fpx serve --detach` writes the record as soon as the server is spawned, marked `starting`, and
again once it is ready: were fpx killed in between (even by SIGKILL, which it cannot catch),
`fpx status` and `fpx stop` still see, and stop, the server it left starting.
A record whose process is gone, or whose pid now belongs to another process, is stale: reading
it removes it and answers None, so it is never trusted. A state directory that does not exist
holds no record; one that cannot be a directory (a file, /proc/...) or cannot be read or
written is a StateDirError, one line naming it and where it came from.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cli import procs
from cli.errors import UsageError

RECORD_NAME = "server.json"
LOG_NAME = "server.log"


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


def record_path() -> Path:
    return state_dir() / RECORD_NAME


def log_path() -> Path:
    return state_dir() / LOG_NAME


@dataclass(frozen=True)
class ServerRecord:
    url: str
    pid: int
    log: str
    db: str
    started_at: float
    # Linux: the process's start time in clock ticks, so a reused pid is not mistaken for it.
    proc_start: int | None = None
    stop_timeout: float = 10.0
    # Still starting: the `fpx serve --detach` (pid, start time) waiting for it to be ready.
    starting: bool = False
    launcher: int | None = None
    launcher_start: int | None = None

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


def save(record: ServerRecord) -> Path:
    path = ensure_dir() / RECORD_NAME
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(asdict(record), indent=2) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise unusable(exc) from None
    return path


def remove(pid: int | None = None) -> None:
    """Remove the record (only if it is the one of `pid`, when given)."""
    if pid is not None:
        try:
            if json.loads(record_path().read_text()).get("pid") != pid:
                return
        except (OSError, ValueError, AttributeError):
            pass
    try:
        record_path().unlink(missing_ok=True)
    except NotADirectoryError:  # no directory, no record
        pass
    except OSError as exc:
        raise unusable(exc) from None


@dataclass(frozen=True)
class Lookup:
    """What reading the record found: a live server, or None and perhaps a stale record."""

    record: ServerRecord | None
    stale: ServerRecord | None = None


def lookup() -> Lookup:
    """The detached server if it still runs; a stale or unreadable record is removed."""
    path = record_path()
    try:
        data = json.loads(path.read_text())
        record = ServerRecord(**data)
    except FileNotFoundError:
        return Lookup(None)
    except OSError as exc:  # the directory is a file, or cannot be read
        raise unusable(exc) from None
    except (ValueError, TypeError):  # a broken record: as good as none
        remove()
        return Lookup(None)
    if record.is_running():
        return Lookup(record)
    remove()
    return Lookup(None, stale=record)


def running() -> ServerRecord | None:
    return lookup().record
