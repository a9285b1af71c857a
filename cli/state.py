"""The record of the detached server (`fpx serve --detach`): where it is kept, read, written.

One record at a time, `server.json` in the state directory: $FPX_STATE_DIR if set, else
$XDG_RUNTIME_DIR/fpx (cleared at logout, as a running server's record should be), else
$XDG_DATA_HOME/fpx or ~/.local/share/fpx. The detached server's log is `server.log` next to it.
A record whose process is gone, or whose pid now belongs to another process, is stale: reading
it removes it and answers None, so it is never trusted.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cli import procs

RECORD_NAME = "server.json"
LOG_NAME = "server.log"


def state_dir() -> Path:
    if explicit := os.environ.get("FPX_STATE_DIR"):
        return Path(explicit)
    if runtime := os.environ.get("XDG_RUNTIME_DIR"):
        return Path(runtime) / "fpx"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "fpx"


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

    @property
    def uptime(self) -> float:
        return max(0.0, time.time() - self.started_at)

    def is_running(self) -> bool:
        return procs.is_running(self.pid, self.proc_start)


def save(record: ServerRecord) -> Path:
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def remove() -> None:
    record_path().unlink(missing_ok=True)


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
    except (OSError, ValueError, TypeError):
        remove()
        return Lookup(None)
    if record.is_running():
        return Lookup(record)
    remove()
    return Lookup(None, stale=record)


def running() -> ServerRecord | None:
    return lookup().record
