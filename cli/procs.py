"""Processes by pid: is it still the one we started, and does it hold the port we gave it.

A pid alone is not an identity: once a process is gone its pid can be handed to another one.
On Linux a process is identified by its pid and its start time (/proc/<pid>/stat); elsewhere
we can only ask whether some process has that pid. A zombie (exited, not yet reaped) counts as
gone: it serves nothing and can no longer be stopped.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")
_HAVE_PROC = (_PROC / "self" / "stat").exists()


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name: [] when there is no such
    process, None when there is no /proc to ask."""
    if not _HAVE_PROC:
        return None
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return []
    # The command name is in parentheses and may itself contain spaces and parentheses.
    return text[text.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (Linux), or None if unknown/gone."""
    fields = _stat_fields(pid)
    if not fields or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def is_running(pid: int, started: int | None = None) -> bool:
    """Whether `pid` is a live (not zombie) process, and the same one if `started` is known."""
    if pid <= 0:
        return False
    fields = _stat_fields(pid)
    if fields is None:  # no /proc: all we can tell is whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if not fields or fields[0] in ("Z", "X"):
        return False
    return started is None or int(fields[19]) == started


def group_members(pgid: int) -> list[int]:
    """Live processes in process group `pgid` (Linux; elsewhere an empty list)."""
    members: list[int] = []
    for entry in _PROC.glob("[0-9]*"):
        fields = _stat_fields(int(entry.name))
        if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def holds_listener(pid: int, port: int) -> bool | None:
    """Whether `pid` holds a socket listening on TCP `port`: True/False on Linux, None elsewhere.

    This is how the launcher knows that the /readyz answer on a port comes from the server it
    started, not from another process that took the port in the meantime. The process's own
    sockets are listed first (a few readlinks); the kernel's socket tables, which take ~4 ms
    each to read whatever their size, only as far as needed (IPv4 first).
    """
    if not _HAVE_PROC:
        return None
    fd_dir = f"/proc/{pid}/fd"
    sockets = set()
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            sockets.add(target[8:-1])
    if not sockets:
        return False
    suffix = f":{port:04X}"
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/net/{table}") as lines:
                next(lines, None)  # the header
                for line in lines:
                    fields = line.split()
                    # local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 the inode.
                    if fields[3] == "0A" and fields[1].endswith(suffix) and fields[9] in sockets:
                        return True
        except OSError:
            continue
    return False
