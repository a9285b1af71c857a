"""Exit codes, the errors commands raise, and how one becomes a red line and an exit code.

An expected failure (the server said no, nothing answers, bad input) never shows a traceback:
commands raise a `CliError`, and `reported_errors` prints it on stderr and exits with its code.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

import typer


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    UNREACHABLE = 3
    WAIT_TIMEOUT = 4
    INTERRUPTED = 130  # 128 + SIGINT; typer itself exits so on a KeyboardInterrupt


# For `fpx --help` and the README; keep in step with ExitCode.
EXIT_CODES_HELP = """\
[bold]Exit codes[/bold]
0  success (--follow, task wait: the task succeeded)
1  the server answered an error, or is not an fpx server; the task
   failed, was cancelled or interrupted; fpx serve could not start; a
   check failed; the output could not be written (stdout closed or full)
2  bad usage: unknown option, invalid value
3  no fpx server reachable, or a request timed out;
   fpx status / stop / logs: no detached server (or log)
4  --follow, task wait: --timeout ran out first
130  Ctrl-C (128 + a signal's number): what fpx started is stopped first"""


class CliError(Exception):
    """A failure to report as one line (plus optional detail lines) and an exit code."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)


class UsageError(CliError):
    exit_code = ExitCode.USAGE


class Unreachable(CliError):
    exit_code = ExitCode.UNREACHABLE


class WaitTimeout(CliError):
    exit_code = ExitCode.WAIT_TIMEOUT


class ApiError(CliError):
    """The server answered with an error status; `detail` is its `{"detail": ...}`."""

    def __init__(self, status: int, reason: str, detail: object, hint: str = "") -> None:
        super().__init__(f"{status} {reason}: {describe_detail(detail)}", [hint] if hint else [])
        self.status = status
        self.detail = detail


def describe_detail(detail: object) -> str:
    """FastAPI's detail as one line: a string as is, a validation list as `where: what; ...`."""
    if isinstance(detail, list):
        parts = []
        for error in detail:
            if not isinstance(error, dict):
                parts.append(str(error))
                continue
            # loc starts with where the value came from ("query", "body", "path"); a server
            # that is not fpx may send anything there.
            loc = error.get("loc")
            loc = [str(p) for p in loc[1:]] if isinstance(loc, list) else []
            msg = str(error.get("msg", error))
            parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
        return "; ".join(parts) or "invalid request"
    return str(detail)


def no_color() -> bool:
    """NO_COLOR set to anything but "" (no-color.org): no colour from fpx (rich reads it too)."""
    return bool(os.environ.get("NO_COLOR"))


def print_error(message: str, details: Sequence[str] = ()) -> None:
    """Red on a terminal's stderr, plain when stderr is redirected or NO_COLOR is set; the
    exit code still tells when stderr is closed. A message may quote the server: its control
    characters are made visible."""
    from cli.visible import visible

    color = False if no_color() else None
    with suppress(OSError, ValueError):
        typer.secho(f"error: {visible(message)}", fg="red", err=True, color=color)
        for line in details:
            typer.echo(f"  {visible(line)}", err=True, color=color)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn a CliError raised inside into its message on stderr and its exit code."""
    try:
        yield
    except CliError as exc:
        if exc.message:  # none when there is nothing to say (a reader that went away)
            print_error(exc.message, exc.details)
        raise typer.Exit(int(exc.exit_code)) from None
