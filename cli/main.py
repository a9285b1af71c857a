"""The root `fpx` command: global options, the commands, and the console-script entry point."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.errors import EXIT_CODES_HELP
from cli.group import LazyCommand, LazyGroup
from cli.session import (
    GlobalOptions,
    JsonOption,
    RequestTimeoutOption,
    TokenOption,
    UrlOption,
    hidden,
)


class FpxGroup(LazyGroup):
    # The root's help is made from these one-line helps alone (tests/cli/test_help.py checks
    # that each is its command's own); a command's module, in cli.commands, is imported when
    # it runs.
    package = "cli.commands"
    lazy_commands = {
        "serve": LazyCommand("serve", "Start the fpx server and wait until it is ready."),
        "status": LazyCommand("detached", "Show the detached server: url, pid, tasks."),
        "stop": LazyCommand("detached", "Stop the detached server."),
        "logs": LazyCommand("detached", "Print the detached server's log."),
        "predict": LazyCommand("predict", "Run a model on X (GET /predict)."),
        "models": LazyCommand("predict", "List the loaded models (GET /models)."),
        "health": LazyCommand("health", "Is the server alive and ready?"),
        "check": LazyCommand(
            "check", "Check every endpoint of an fpx server (with --url, this writes to it)."
        ),
        "users": LazyCommand("users", "Users: list, me, get NAME.", whole_app=True),
        "items": LazyCommand("items", "Items: list, get, add, delete.", whole_app=True),
        "jobs": LazyCommand("jobs", "List the jobs a task can run (GET /jobs)."),
        "task": LazyCommand("tasks", "Background tasks: submit, get, list, cancel, delete, wait.",
                            whole_app=True),
    }


app = typer.Typer(
    name="fpx",
    cls=FpxGroup,
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"fpx {version('fpx')}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    url: hidden(UrlOption) = None,
    json_output: hidden(JsonOption) = False,
    request_timeout: hidden(RequestTimeoutOption) = None,
    token: hidden(TokenOption) = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, metavar="",
        help="Print fpx's version and exit.",
    )] = False,
) -> None:
    """Launch, call and check the fpx server (a reference FastAPI service).

    Start a server with `fpx serve` (or `fpx serve --detach`), then call it:
    `fpx predict 3.5`, `fpx task submit --wait 5 --follow`, `fpx check`.
    Rich output on a terminal; the server's data as JSON with --json or in a pipe.

    Global options, before or after the command (see its --help): --url URL,
    --json, --request-timeout SECONDS, --token TOKEN.
    """
    ctx.obj = GlobalOptions(url, json_output, request_timeout, token)


def main() -> None:
    app(prog_name="fpx")
