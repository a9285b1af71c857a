"""`fpx status`, `fpx stop`, `fpx logs`: the server `fpx serve --detach` left running (and,
for `fpx status`, else the one a foreground `fpx serve` runs)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from cli import state
from cli.errors import ApiError, Unreachable
from cli.output import writing
from cli.session import DEFAULT_URL, Session, session_command
from cli.visible import visible

app = typer.Typer()

FOLLOW_INTERVAL = 0.2
PROBE_TIMEOUT = 1.0  # asking what answers at the URL when no server is recorded


class NoDetachedServer(Unreachable):
    """Exit 3, as for any command that finds no server."""


def _detached(found: state.Lookup | None = None) -> state.ServerRecord:
    found = found or state.lookup()
    if found.detached is not None:
        return found.detached
    stale = found.stale_detached
    details = _what_else_answers()
    if found.foreground is not None:
        details = [
            f"the fpx server at {found.foreground.url} (pid {found.foreground.pid}) runs in the"
            " foreground of the terminal that started it: stop it there, with Ctrl-C"
        ]
    raise NoDetachedServer(
        "no detached fpx server is running"
        + (f" (removed the stale record of pid {stale.pid})" if stale else ""),
        details,
    )


def _what_else_answers() -> list[str]:
    """With no server recorded: what answers where client commands go ($FPX_URL, else the
    default URL), so that a server fpx did not start (`make serve`) is not called absent."""
    from cli.client import check_url, what_answers
    from cli.errors import UsageError

    try:
        url = check_url(os.environ.get("FPX_URL") or DEFAULT_URL, "FPX_URL")
    except UsageError:
        return ["start one with: fpx serve --detach"]
    found = what_answers(url, PROBE_TIMEOUT)
    if found is None:
        return ["start one with: fpx serve --detach"]
    if found.startswith("an fpx server"):
        return [
            f"but {found} answers at {url}, one fpx did not start (make serve, python -m"
            " server): client commands use it; stop it where it runs"
        ]
    return [
        f"{found} answers at {url}; start fpx's elsewhere: fpx serve --detach --port 0"
    ]


def _shown() -> state.ServerRecord:
    """The server `fpx status` shows: the detached one, else the newest foreground one."""
    found = state.lookup()
    if found.detached is None and found.foreground is not None:
        return found.foreground
    return _detached(found)


@app.command()
@session_command(uses=("json", "request_timeout", "token"))
def status(s: Session) -> None:
    """Show the detached server: url, pid, tasks.

    Its url, pid, uptime, models and task counts; without a detached server, the
    newest one a foreground `fpx serve` runs.

    Exits 3 when none runs (a record whose process is gone is removed), or when it
    runs but does not answer; a server still starting is shown as such (exit 0).

    Examples:
      fpx status
      fpx status --json | jq .tasks
    """
    record = _shown()
    data: dict = {
        "url": record.url, "pid": record.pid, "uptime_s": round(record.uptime, 1),
        "started_at": record.started_at, "db": record.db, "log": record.log,
        "detached": record.detached,
        "ready": False, "state": "starting" if record.starting else "not answering",
        "models": None, "tasks": None,
    }
    if record.launcher_is_gone():
        s.out.note(
            f"the fpx serve --detach that started it (pid {record.launcher}) is gone;"
            " fpx stop stops it"
        )
    with s.client(record.url) as api:
        try:
            ready = api.readyz()
        except Unreachable as exc:
            s.out.show(data, "server_status")
            if record.starting:  # not listening yet
                return
            kind = "detached" if record.detached else "foreground"
            raise Unreachable(
                f"the {kind} server (pid {record.pid}) does not answer at {record.url}",
                [exc.message],
            ) from None
        if isinstance(ready.data, dict):
            data["state"] = ready.data.get("status", "?")
            data["models"] = ready.data.get("models")
        data["ready"] = ready.status == 200
        if data["ready"]:
            try:
                data["tasks"] = api.task_counts()
            except ApiError as exc:
                s.out.note(f"no task counts: {exc.message}")
    s.out.show(data, "server_status")


@app.command()
@session_command(uses=("json",))
def stop(s: Session) -> None:
    """Stop the detached server.

    Gracefully, or killed if it takes too long; its record is removed.
    Exits 3 when none runs.

    Example:
      fpx serve --detach && fpx predict 3.5 && fpx stop
    """
    from cli.launcher import stop_pid

    record = _detached()
    graceful = stop_pid(record.pid, record.proc_start, record.stop_timeout)
    state.remove(record.pid)
    s.out.show(
        {"url": record.url, "pid": record.pid, "stopped": True, "graceful": graceful},
        "server_stopped",
    )


@app.command()
@session_command(uses=())
def logs(
    s: Session,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", metavar="",
        help="Keep printing new lines until the server stops (or Ctrl-C).",
    )] = False,
    lines: Annotated[int | None, typer.Option(
        "--lines", "-n", min=0, help="Only the last N lines.", show_default="all",
    )] = None,
) -> None:
    """Print the detached server's log.

    Examples:
      fpx logs -n 20
      fpx logs -f
    """
    _print_log(state.log_path(), follow, lines)


def _print_log(path: Path, follow: bool, lines: int | None) -> None:
    try:
        log = state.open_log("rb")
    except FileNotFoundError:
        raise NoDetachedServer(
            f"no server log at {path}", ["start a server with: fpx serve --detach"]
        ) from None
    except NotADirectoryError as exc:  # the state directory is a file
        raise state.unusable(exc) from None
    with log:
        content = log.read()
        if lines is not None:
            content = b"".join(content.splitlines(keepends=True)[-lines:] if lines else [])
        _write(content)
        if not follow:
            return
        record = state.lookup().detached
        try:
            while record is not None and record.is_running():
                time.sleep(FOLLOW_INTERVAL)
                if path.stat().st_size < log.tell():  # a new server started over the log
                    log.seek(0)
                _write(log.read())
            _write(log.read())
        except KeyboardInterrupt:
            return


def _write(data: bytes) -> None:
    # A log line may quote a client (a job's error about its args): shown, never obeyed.
    if data:
        with writing():
            sys.stdout.write(visible(data.decode(errors="replace")))
            sys.stdout.flush()
