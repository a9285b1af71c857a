"""`fpx check`: exercise every endpoint of a server, a throwaway one unless --url is given."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.errors import CliError
from cli.session import Session, session_command

if TYPE_CHECKING:
    from cli.checks import Checks

app = typer.Typer()

STARTUP_TIMEOUT = 60.0


class ChecksFailed(CliError):
    pass


@app.command()
@session_command()
def check(s: Session) -> None:
    """Check every endpoint of an fpx server (with --url, this writes to it).

    Every endpoint and feature, and a table of what each check expected and got.

    Without --url (here, $FPX_URL and the detached server are not used), starts
    a throwaway server on a free port with a temporary database, checks it and
    stops it. With --url, the checks write to that server's database: they add
    an item and submit three tasks (one of 60 s, cancelled), then cancel and
    delete every task and delete the item, also when a check fails or Ctrl-C
    stops them; whatever could not be removed is named. Exits 0 when every
    check passed, 1 otherwise (also when the URL is not an fpx server), 3 when
    nothing answers there, 130 when interrupted.

    Examples:
      fpx check
      fpx check --url http://127.0.0.1:8000 --json
    """
    import tempfile

    url = s.explicit_url
    if url is not None:
        results = _run_and_clean_up(s, url)
    else:
        with tempfile.TemporaryDirectory(prefix="fpx-check-") as tmp:
            results = _run_throwaway(s, Path(tmp))
    s.out.show(results, "checks")
    failed = [r["check"] for r in results if not r["ok"]]
    if failed:
        raise ChecksFailed(f"{len(failed)} of {len(results)} checks failed: {', '.join(failed)}")


def _run(s: Session, url: str) -> list[dict]:
    """The checks against a throwaway server, whose database goes with it: nothing to remove."""
    from cli.checks import Checks, report, run_checks

    with s.client(url) as api:
        checks = Checks(api)
        run_checks(checks)
        return report(checks)


def _run_and_clean_up(s: Session, url: str) -> list[dict]:
    """The checks against a server that stays: what they made is removed however they end,
    and removing it is the last check. Ctrl-C, SIGTERM or SIGHUP stop the checks, not the
    removal (a second one does)."""
    from cli.checks import Checks, made, report, run_checks

    with s.client(url) as api, _signals_interrupt() as received:
        checks = Checks(api)
        try:
            run_checks(checks)
            checks.record_clean_up(made(checks))
        except KeyboardInterrupt:
            left = _clean_up_after_interrupt(s, checks)
            s.out.note("interrupted: " + (
                f"could not remove {'; '.join(left)}" if left else "removed what the checks made"
            ))
            raise typer.Exit(128 + (received[0] if received else signal.SIGINT)) from None
        except Exception:
            checks.clean_up()
            raise
        return report(checks)


def _clean_up_after_interrupt(s: Session, checks: Checks) -> list[str]:
    try:
        return checks.clean_up()
    except KeyboardInterrupt:  # asked twice: stop now, and say what may be left
        return [f"task {t}" for t in checks.tasks] + [f"item {i}" for i in checks.items]


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[list[int]]:
    """SIGTERM and SIGHUP, like Ctrl-C, raise KeyboardInterrupt while the checks run, so that
    what they made is still removed. Yields the signals received. Only in the main thread,
    where signal handlers live."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def interrupt(signum: int, frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, interrupt) for sig in stop_signals}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_throwaway(s: Session, tmp: Path) -> list[dict]:
    """Start a server, check it, stop it. Ctrl-C (or SIGTERM, SIGHUP) cuts the checks short,
    never the stop: the server is stopped (a second Ctrl-C kills it), then we exit 130."""
    from cli.launcher import ServerConfig, ServerProcess, StopOnSignals, StopRequested

    config = ServerConfig(
        port=0, db=tmp / "check.db", log_level="warning", models=(),
        extra_env={"FPX_SHUTDOWN_TIMEOUT": "1", "FPX_API_TOKEN": ""},
    )
    server = ServerProcess(config, output="capture")
    with StopOnSignals(server) as signals:
        try:
            server.start()
            server.wait_until_ready(STARTUP_TIMEOUT)
            with signals.interrupting():
                s.out.note(f"checking a throwaway fpx server at {server.url} (pid {server.pid})")
                return _run(s, server.url)
        except (StopRequested, KeyboardInterrupt):
            pass
        finally:
            if server.popen is not None:
                server.stop(config.stop_timeout())
    s.out.note(f"interrupted: stopped the throwaway fpx server (pid {server.pid})")
    raise typer.Exit(signals.exit_code)
