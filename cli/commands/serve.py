"""`fpx serve`: start the server, wait until it is ready, then stream its log or detach."""

from __future__ import annotations

import dataclasses
import enum
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.errors import CliError
from cli.session import Session, session_command

if TYPE_CHECKING:
    from cli.launcher import ServerConfig, ServerProcess

app = typer.Typer()

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class LogLevel(enum.StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


class ServerDied(CliError):
    pass


@app.command()
@session_command(uses=("json",), own=("token",))
def serve(
    s: Session,
    host: Annotated[str, typer.Option(envvar="FPX_HOST", help="Address to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(
        envvar="FPX_PORT", min=0, max=65535, help="Port to listen on; 0 picks a free one.",
    )] = 8000,
    workers: Annotated[int, typer.Option(
        envvar="FPX_WORKERS", min=1, help="Worker processes (they share the database).",
    )] = 1,
    reload: Annotated[bool, typer.Option(
        "--reload", envvar="FPX_RELOAD", metavar="",
        help="Restart the server when its code changes.",
    )] = False,
    log_level: Annotated[LogLevel, typer.Option(
        envvar="FPX_LOG_LEVEL", case_sensitive=False, help="The server's log level.",
    )] = LogLevel.info,
    db: Annotated[str | None, typer.Option(
        envvar="FPX_DB", metavar="PATH|URL",
        help="SQLite database file, or a PostgreSQL URL postgresql://user:password@host/dbname"
        " shared by several servers (better set FPX_DB: other users can see a command line).",
        show_default="~/.local/share/fpx/fpx.db",
    )] = None,
    model: Annotated[list[str] | None, typer.Option(
        "--model", metavar="NAME=module:attr",
        help="An extra model, added to the built-in one; repeatable. Default: $FPX_MODELS.",
        show_default=False,
    )] = None,
    max_wait: Annotated[int | None, typer.Option(
        envvar="FPX_MAX_WAIT", min=0, metavar="SECONDS", help="Largest task wait_time allowed.",
        show_default="3600",
    )] = None,
    token: Annotated[str | None, typer.Option(
        envvar="FPX_API_TOKEN", metavar="TOKEN",
        help="Require this bearer token on every API call but /livez and /readyz (better set"
        " FPX_API_TOKEN: other users can see a command line).",
        show_default=False,
    )] = None,
    detach: Annotated[bool, typer.Option(
        "--detach", "-d", metavar="",
        help="Return once ready, leaving the server running (see fpx status, logs, stop).",
    )] = False,
    startup_timeout: Annotated[float, typer.Option(
        min=0.1, metavar="SECONDS", help="Give up if the server is not ready by then.",
    )] = 60.0,
) -> None:
    """Start the fpx server and wait until it is ready.

    In the foreground its log streams to stderr; Ctrl-C (or SIGTERM) stops it
    gracefully, a second Ctrl-C kills it. If fpx itself is killed, the server
    stops too. With --detach it keeps running in the background, its log in a
    file.

    Examples:
      fpx serve
      fpx serve --port 0 --model double=mymodels:load_double
      fpx serve --detach && fpx status && fpx stop
    """
    from cli.launcher import ServerConfig
    from cli.tokens import check_token

    token = token or s.options.token  # also `fpx --token T serve`
    if token:
        from_env = token == os.environ.get("FPX_API_TOKEN")
        check_token(token, "FPX_API_TOKEN" if from_env else "--token")
    config = ServerConfig(
        host=host, port=port, db=_db_option(db), workers=workers,
        reload=reload, log_level=log_level.value, models=tuple(model) if model else None,
        max_wait=max_wait, token=token,
    )
    if host not in LOOPBACK_HOSTS and not host.startswith("127.") and not config.token:
        s.out.warn(
            f"listening on {host} without a token: the API is open to the network"
            " (pass --token or set FPX_API_TOKEN)"
        )
    if detach:
        _serve_detached(s, config, startup_timeout)
    else:
        _serve_foreground(s, config, startup_timeout)


def _is_url(db: str) -> bool:
    """What server.dburl.is_postgres_url says, without importing the server's package."""
    scheme, sep, _ = db.partition("://")
    return bool(sep) and scheme.lower() in ("postgresql", "postgres")


def _db_option(db: str | None) -> Path | str | None:
    """--db as the server gets it: a URL as given, a file path made absolute."""
    if not db:
        return None
    if _is_url(db):
        return db
    path = Path(db).expanduser()
    if path.is_dir():
        raise typer.BadParameter(f"{db} is a directory, not a database file", param_hint="--db")
    return path.resolve()


def _ready_info(server: ServerProcess, ready: dict, db: str, log: Path | None) -> dict:
    return {
        "url": server.url,
        "docs": f"{server.url}/docs",
        "pid": server.pid,
        "models": ready.get("models", []),
        "db": db,
        "startup_s": ready["startup_s"],
        "log": str(log) if log else None,
    }


def _database(config: ServerConfig) -> str:
    """The database the server opens, as shown and recorded: --db/FPX_DB (a URL with its
    password masked), else the server's own default."""
    from cli.launcher import default_db_path

    if isinstance(config.db, str):
        from server.dburl import redact  # small, standard library only

        return redact(config.db)
    return str(config.db if config.db is not None else default_db_path())


def _serve_foreground(s: Session, config: ServerConfig, startup_timeout: float) -> None:
    from cli.launcher import ServerProcess, StopOnSignals, StopRequested

    server = ServerProcess(config, output="stream")
    stop_timeout = config.stop_timeout()

    def on_first_signal() -> None:
        s.out.note("stopping the fpx server (Ctrl-C again to kill it)")

    with StopOnSignals(server, on_first=on_first_signal):
        server.start()
        try:
            db = _database(config)
            ready = server.wait_until_ready(startup_timeout)
        except StopRequested:
            server.wait(stop_timeout)
            return
        except BaseException:
            server.kill()
            server.wait(stop_timeout)
            raise
        recorded = _record_foreground(s, server, ready, db, stop_timeout)
        try:
            s.out.show(_ready_info(server, ready, db, None), "server_ready")
            code = server.wait(stop_timeout)
        finally:
            if recorded:
                _forget(s, server.pid)
    if server.stop_requested_at is None:
        raise ServerDied(f"the server exited unexpectedly (exit code {code})")


def _record_foreground(
    s: Session, server: ServerProcess, ready: dict, db: str, stop_timeout: float
) -> bool:
    """Record a foreground server, so that client commands and `fpx status` find it. Only a
    convenience: a state directory that cannot hold it is a warning, and the server serves."""
    from cli import procs, state

    record = state.ServerRecord(
        url=server.url, pid=server.pid, db=db, started_at=time.time() - ready["startup_s"],
        proc_start=procs.start_time(server.pid), stop_timeout=stop_timeout, detached=False,
    )
    try:
        state.save(record)
    except state.StateDirError as exc:
        s.out.warn(f"{exc.message}; other fpx commands will not find this server by itself")
        return False
    return True


def _forget(s: Session, pid: int) -> None:
    from cli import state

    try:
        state.remove(pid)
    except state.StateDirError as exc:
        s.out.warn(exc.message)


def _serve_detached(s: Session, config: ServerConfig, startup_timeout: float) -> None:
    """Start the server in its own session and return once it is ready, recorded.

    It is recorded (as starting) as soon as it is spawned, so that `fpx status` and `fpx stop`
    see it even if we are killed before it is ready; the check that no detached server runs
    and that record are one step under the state directory's lock, so that of several started
    at once one wins and the others start nothing. A signal meanwhile stops it, as Ctrl-C in
    the foreground does; then we exit 128 + the signal's number: no server was left running.
    """
    from cli import procs, state
    from cli.launcher import ServerProcess, StopOnSignals, StopRequested

    state.ensure_dir()  # before anything starts: a detached server must be recorded
    log = state.log_path()
    db = _database(config)
    server = ServerProcess(config, output="file", log_file=log, detach=True)
    me = os.getpid()
    with StopOnSignals(server) as signals:
        with state.detach_lock():
            running = state.lookup().detached
            if running is not None:
                doing = "is starting" if running.starting else "already runs"
                raise CliError(
                    f"an fpx server {doing} detached at {running.url} (pid {running.pid})",
                    ["stop it first: fpx stop"],
                )
            server.start()
            record = state.ServerRecord(
                url=server.url, pid=server.pid, log=str(log), db=db,
                started_at=time.time(), proc_start=procs.start_time(server.pid),
                stop_timeout=config.stop_timeout(), starting=True, launcher=me,
                launcher_start=procs.start_time(me),
            )
            try:
                state.save(record)
            except BaseException:
                server.kill()
                raise
        try:
            ready = server.wait_until_ready(startup_timeout)
            state.save(dataclasses.replace(
                record, starting=False, started_at=time.time() - ready["startup_s"],
            ))
        except StopRequested:
            server.wait(config.stop_timeout())
            state.remove(server.pid)
            s.out.note(f"stopped the fpx server that was starting (pid {server.pid})")
            raise typer.Exit(signals.exit_code) from None
        except BaseException:
            server.kill()
            state.remove(server.pid)
            raise
    s.out.show(_ready_info(server, ready, db, log), "server_ready")
