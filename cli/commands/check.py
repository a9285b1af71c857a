"""`fpx check`: exercise every endpoint of a server, a throwaway one unless --url is given."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.errors import CliError
from cli.session import Session, session_command

app = typer.Typer()

STARTUP_TIMEOUT = 60.0


class ChecksFailed(CliError):
    pass


@app.command()
@session_command()
def check(s: Session) -> None:
    """Check every endpoint of an fpx server.

    Every endpoint and feature, and a table of what each check expected and got.

    Without --url (here, $FPX_URL and the detached server are not used), starts
    a throwaway server on a free port with a temporary database, checks it and
    stops it. Exits 0 when every check passed, 1 otherwise (also when the URL is
    not an fpx server), 3 when nothing answers there.

    Examples:
      fpx check
      fpx check --url http://127.0.0.1:8000 --json
    """
    import tempfile

    url = s.explicit_url
    if url is not None:
        results = _run(s, url)
    else:
        with tempfile.TemporaryDirectory(prefix="fpx-check-") as tmp:
            results = _run_throwaway(s, Path(tmp))
    s.out.show(results, "checks")
    failed = [r["check"] for r in results if not r["ok"]]
    if failed:
        raise ChecksFailed(f"{len(failed)} of {len(results)} checks failed: {', '.join(failed)}")


def _run(s: Session, url: str) -> list[dict]:
    from cli.checks import run_checks

    with s.client(url) as api:
        return run_checks(api)


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
